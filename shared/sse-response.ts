import type { Context } from 'hono';
import { toSSE, type ToSSEOptions } from './sse.ts';

/** Streams `source` as SSE through the context (so CORS and session headers apply). */
export function sseResponse(c: Context, source: AsyncIterable<unknown>, options: ToSSEOptions = {}): Response {
  return c.body(toSSE(source, options), 200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
}
