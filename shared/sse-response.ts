import type { Context } from 'hono';
import { logFailure } from './http-errors.ts';
import type { Logger } from './log.ts';
import { toSSE, type ToSSEOptions } from './sse.ts';

/**
 * Streams `source` as SSE through the context (so CORS and session headers apply). With a `logger`, a
 * failure mid-stream (sent as `onError`'s event) is logged once with the request id, unless the client left.
 */
export function sseResponse(
  c: Context,
  source: AsyncIterable<unknown>,
  { logger, ...options }: ToSSEOptions & { logger?: Logger } = {},
): Response {
  const { onError } = options;
  const logged: ToSSEOptions =
    logger && onError
      ? {
          ...options,
          onError: (err) => {
            if (!c.req.raw.signal.aborted) logFailure(logger, c, err, 'stream failed', { always: true });
            return onError(err);
          },
        }
      : options;
  return c.body(toSSE(source, logged), 200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
}
