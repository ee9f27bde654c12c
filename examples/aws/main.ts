import type { App } from "cdktf";

/** Adds the aws example stack to the app. (Filled in by the aws platform work.) */
export function awsExample(_app: App): void {}
