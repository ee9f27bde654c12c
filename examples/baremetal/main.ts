import type { App } from "cdktf";

/** Adds the baremetal example stack to the app. (Filled in by the baremetal platform work.) */
export function baremetalExample(_app: App): void {}
