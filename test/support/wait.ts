/** Synchronous polling for the tests that drive real programs (jest runs them in band). */

export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export interface WaitOptions {
  readonly timeoutMs: number;
  /** @default 500 */
  readonly intervalMs?: number;
  /** What to show when it fails (a log's tail, kubectl describe). @default nothing */
  readonly diagnostics?: () => string;
  /** Stop waiting early when this says the condition can no longer come true (the process exited). @default never */
  readonly hopeless?: () => boolean;
  /** A check that throws counts as not yet (an API server restarting); the last error is reported. @default false */
  readonly tolerateErrors?: boolean;
}

/** Polls `check` until it is true; otherwise throws "<what>: not within N s" and the diagnostics. Returns ms waited. */
export function waitFor(what: string, check: () => boolean, options: WaitOptions): number {
  const started = Date.now();
  let lastError = "";
  for (;;) {
    try {
      if (check()) return Date.now() - started;
    } catch (e) {
      if (!options.tolerateErrors) throw e;
      lastError = String(e);
    }
    const waited = Date.now() - started;
    if (waited > options.timeoutMs || options.hopeless?.()) {
      const why = waited > options.timeoutMs ? `not within ${Math.round(options.timeoutMs / 1000)} s` : `gave up after ${Math.round(waited / 1000)} s`;
      const details = [lastError && `last error: ${lastError}`, options.diagnostics?.()].filter(Boolean).join("\n");
      throw new Error(`${what}: ${why}${details ? `:\n${details}` : ""}`);
    }
    sleepMs(options.intervalMs ?? 500);
  }
}
