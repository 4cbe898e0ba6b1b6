const encoder = new TextEncoder();

/** One SSE event carrying `data` as JSON (or a raw string such as `[DONE]`). */
export function sseEvent(data: unknown): Uint8Array {
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  return encoder.encode(`data: ${text}\n\n`);
}

export interface ToSSEOptions {
  /** A last raw event after a clean end, e.g. `[DONE]`. */
  done?: string;
  /** The event sent when the source fails mid-stream (the stream then closes); default: the stream errors. */
  onError?: (err: unknown) => unknown;
  /**
   * Encoded bytes to prepare ahead of the consumer (events are pulled from `source` until this much waits);
   * default: one event. Bulk streams set it so reading the source overlaps writing the socket.
   */
  aheadBytes?: number;
}

/** Turns a stream of values into an SSE byte stream (values as JSON `data:` events; Uint8Arrays as they are). */
export function toSSE(
  source: AsyncIterable<unknown>,
  { done, onError, aheadBytes }: ToSSEOptions = {},
): ReadableStream<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]();
  const strategy = aheadBytes
    ? { highWaterMark: aheadBytes, size: (chunk: Uint8Array) => chunk.byteLength }
    : undefined;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let next: IteratorResult<unknown>;
        try {
          next = await iterator.next();
        } catch (err) {
          if (!onError) throw err;
          controller.enqueue(sseEvent(onError(err)));
          controller.close();
          return;
        }
        if (next.done) {
          if (done) controller.enqueue(sseEvent(done));
          controller.close();
          return;
        }
        // A Uint8Array is an event its producer already encoded (bulk data written without a JSON round trip).
        controller.enqueue(next.value instanceof Uint8Array ? next.value : sseEvent(next.value));
      },
      async cancel() {
        await iterator.return?.();
      },
    },
    strategy,
  );
}

/** Longest SSE event `parseSSE` buffers by default: 16 MiB (an embedding or a whole answer fits many times over). */
export const MAX_SSE_EVENT_CHARS = 16 * 1024 * 1024;

export interface ParseSSEOptions {
  /** Most characters one event may hold before the stream is refused; default `MAX_SSE_EVENT_CHARS`. */
  maxEventChars?: number;
}

/** An SSE stream sent an event longer than the parser buffers. */
export class SSEEventTooLarge extends Error {
  override name = 'SSEEventTooLarge';
}

/**
 * Parses an SSE byte stream into the `data` payloads of its events. An event
 * (or what is buffered while waiting for its end) longer than
 * `maxEventChars` fails the stream with `SSEEventTooLarge`, so a peer cannot
 * make it buffer without bound.
 */
export async function* parseSSE(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
  { maxEventChars = MAX_SSE_EVENT_CHARS }: ParseSSEOptions = {},
): AsyncGenerator<string> {
  const reader = body
    .pipeThrough(new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>)
    .getReader();
  const onAbort = () => void reader.cancel().catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.search(/\r?\n\r?\n/)) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
        const data = block
          .split(/\r?\n/)
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).replace(/^ /, ''))
          .join('\n');
        if (data) yield data;
      }
      if (buffer.length > maxEventChars) {
        await reader.cancel().catch(() => {});
        throw new SSEEventTooLarge(`An event in the stream is longer than ${maxEventChars} characters`);
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    reader.releaseLock();
  }
}
