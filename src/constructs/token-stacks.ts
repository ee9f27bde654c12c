/**
 * cdktf records a complete, formatted stack trace for every token it creates (an Intrinsic's
 * creationStack, shown only when a token cannot be resolved). Under ts-node, the default runner of
 * a TypeScript cdktf app, every frame of every such trace goes through source-map support: that was
 * most of a synth's time (36 ms of 37 per worker pool, measured by `npm run bench`). While our
 * constructs build their resources, traces keep their first frames without source maps.
 */

/** Frames a token's creation stack keeps while our constructs build: enough to find the caller. */
const FRAMES = 12;

/** Switches to shallow, unmapped stack traces; call the returned function to switch back. */
export function shallowTokenStacks(): () => void {
  const previous = Error.prepareStackTrace;
  Error.prepareStackTrace = (error: Error, frames: NodeJS.CallSite[]) => [String(error), ...frames.slice(0, FRAMES).map((frame) => `    at ${frame}`)].join("\n");
  return () => {
    Error.prepareStackTrace = previous;
  };
}
