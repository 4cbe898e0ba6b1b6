/** When and how often an upstream call is tried again. */
export interface RetryOptions {
  /** Attempts in all; default 3. */
  tries?: number;
  /** Wait before the first retry, doubled for each next one; default 250 ms. */
  baseDelayMs?: number;
  /** Longest `Retry-After` waited for; a longer one ends the retries with that answer; default 5000 ms. */
  maxRetryAfterMs?: number;
}

/** 429 and 5xx answers are worth another try. */
export function isRetryable(status: number): boolean {
  return status === 429 || status >= 500;
}

/** `retry-after-ms`, else `Retry-After` (seconds or an HTTP date), in ms; undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const ms = Number(headers.get('retry-after-ms') ?? NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Calls `call` until it answers with something other than 429/5xx, retrying
 * thrown (connection) errors too, with exponential backoff or the answer's
 * `Retry-After`. Resolves with the last answer, rejects with the last error;
 * an aborted `signal` rejects at once with its reason and stops the retries.
 */
export async function fetchWithRetry(
  call: () => Promise<Response>,
  { signal, tries = 3, baseDelayMs = 250, maxRetryAfterMs = 5_000 }: RetryOptions & { signal?: AbortSignal } = {},
): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted();
    const last = attempt >= tries - 1;
    let response: Response;
    try {
      response = await call();
    } catch (err) {
      if (signal?.aborted || last) throw err;
      await sleep(baseDelayMs * 2 ** attempt, signal);
      continue;
    }
    if (last || !isRetryable(response.status)) return response;
    const after = retryAfterMs(response.headers);
    if (after !== undefined && after > maxRetryAfterMs) return response;
    await response.body?.cancel().catch(() => {});
    await sleep(after ?? baseDelayMs * 2 ** attempt, signal);
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
