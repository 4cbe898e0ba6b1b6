import type { Context } from 'hono';

/** Runs `promise` after the response: `waitUntil` on Workers, fire-and-forget on Node; failures are swallowed. */
export function background(c: Context, promise: Promise<unknown>): void {
  const settled = promise.catch(() => {});
  try {
    c.executionCtx.waitUntil(settled);
  } catch {
    // No execution context (Node): the promise runs on its own.
  }
}
