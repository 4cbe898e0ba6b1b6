import { AppError } from './errors.ts';

export interface RequireFinalOptions<T> {
  /** Whether `item` is the event that ends a complete stream. */
  isFinal: (item: T) => boolean;
  /** The error thrown when the source ends without it. */
  ended: () => Error;
  /** When aborted, an unfinished end is the consumer's doing: the stream ends quietly instead. */
  signal?: AbortSignal;
}

/**
 * Passes `source` through and fails when it ends without its final event —
 * a stream cut short must not read as a complete answer. The one check the
 * runner client and the provider adapters share.
 */
export async function* requireFinal<T>(
  source: AsyncIterable<T>,
  { isFinal, ended, signal }: RequireFinalOptions<T>,
): AsyncGenerator<T> {
  for await (const item of source) {
    yield item;
    if (isFinal(item)) return;
  }
  if (!signal?.aborted) throw ended();
}

/** 502 for a stream that `who` ended before saying it was done. */
export function endedEarly(who: string, code: string): AppError {
  return new AppError(502, `${who} ended the stream before finishing`, { code });
}
