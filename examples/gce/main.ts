import type { App } from "cdktf";

/** Adds the gce example stack to the app. (Filled in by the gce platform work.) */
export function gceExample(_app: App): void {}
