import { AppError } from '../../shared/errors.ts';

export interface CapBodyOptions {
  /** Most bytes passed on; 0: no limit. */
  maxBytes: number;
  /** Where the body came from, for the error message. */
  source: string;
  /** Called once when the body ends, fails or is cancelled. */
  onSettle: () => void;
  /** Turns a read failure into the error the reader sees. */
  mapError: (err: unknown) => unknown;
}

/** A body that errors with `AppError(502, …, { code: 'response_too_large' })` once more than `maxBytes` arrive. */
export function capBody(body: ReadableStream<Uint8Array>, options: CapBodyOptions): ReadableStream<Uint8Array> {
  const { maxBytes, source, onSettle, mapError } = options;
  const reader = body.getReader();
  let bytes = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          onSettle();
          controller.close();
          return;
        }
        bytes += value.byteLength;
        if (maxBytes > 0 && bytes > maxBytes) {
          const err = new AppError(502, `the response of ${source} is larger than ${maxBytes} bytes`, {
            code: 'response_too_large',
          });
          reader.cancel(err).catch(() => {});
          throw err;
        }
        controller.enqueue(value);
      } catch (err) {
        onSettle();
        controller.error(mapError(err));
      }
    },
    cancel(reason) {
      onSettle();
      return reader.cancel(reason);
    },
  });
}

/**
 * Reads at most `maxBytes` of a body as UTF-8 text, then cancels the rest (for adapters that summarise big
 * answers instead of failing). `truncated`: more bytes followed; a cut character at the end is dropped.
 * A body that fails with `response_too_large` (the guard's own cap is lower) reads as truncated.
 */
export async function readTextCapped(
  response: Response,
  maxBytes: number,
): Promise<{ text: string; truncated: boolean; bytes: number }> {
  if (!response.body) return { text: '', truncated: false, bytes: 0 };
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text: text + decoder.decode(), truncated: false, bytes };
      if (bytes + value.byteLength > maxBytes) {
        const kept = value.subarray(0, maxBytes - bytes);
        bytes += kept.byteLength;
        return { text: text + decoder.decode(kept, { stream: true }), truncated: true, bytes };
      }
      bytes += value.byteLength;
      text += decoder.decode(value, { stream: true });
    }
  } catch (err) {
    if (err instanceof AppError && err.code === 'response_too_large') return { text, truncated: true, bytes };
    throw err;
  } finally {
    reader.cancel().catch(() => {});
  }
}
