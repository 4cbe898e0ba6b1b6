import { AppError } from '../../shared/errors.ts';
import { parseSSE } from '../../shared/sse.ts';
import { globalFetch, type ProviderHttpOptions } from './provider.ts';
import { fetchWithRetry } from './retry.ts';
import { endedEarly } from '../../shared/stream-end.ts';

/** One streaming POST to an upstream API. */
export interface UpstreamRequest extends ProviderHttpOptions {
  /** The provider's display name, for messages. */
  name: string;
  url: string;
  headers: Record<string, string>;
  /** Sent as JSON. */
  body: unknown;
  signal?: AbortSignal;
}

/** Statuses of the error `type`s OpenAI and Anthropic name in their bodies and stream error events. */
const TYPE_STATUS: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 502,
  overloaded_error: 503,
};

interface Described {
  message?: string;
  code?: string;
  status?: number;
}

/** Reads an error body: OpenAI's `{error:{message,code,type}}`, Anthropic's `{type:'error',error:{type,message}}`, `{error:"..."}`, `{detail:"..."}`. */
function describe(body: unknown): Described {
  if (!body || typeof body !== 'object') return {};
  const outer = body as Record<string, unknown>;
  const inner = outer.error && typeof outer.error === 'object' ? (outer.error as Record<string, unknown>) : outer;
  const text = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const type = text(inner.type);
  const numeric = typeof inner.code === 'number' && inner.code >= 400 && inner.code < 600 ? inner.code : undefined;
  return {
    message: text(outer.error) ?? text(inner.message) ?? text(outer.detail),
    code: text(inner.code) ?? type,
    status: numeric ?? (type ? TYPE_STATUS[type] : undefined),
  };
}

/** An upstream's own words, marked as theirs (so a client can tell them from ours). */
export function upstreamSays(name: string, message: string): string {
  return `${name} (upstream) says: ${message}`;
}

/** An upstream's error answer → AppError with the upstream's status, message and code (`Retry-After` kept). */
export async function upstreamError(res: Response, name: string): Promise<AppError> {
  const text = await res.text().catch(() => '');
  let found: Described = {};
  try {
    found = describe(JSON.parse(text));
  } catch {
    if (text && text.length < 500 && !text.trimStart().startsWith('<')) found = { message: text.trim() };
  }
  const status = res.status >= 400 && res.status < 600 ? res.status : 502;
  const retryAfter = res.headers.get('retry-after');
  return new AppError(status, found.message ? upstreamSays(name, found.message) : `${name} answered ${res.status}`, {
    code: found.code,
    headers: retryAfter && (status === 429 || status === 503) ? { 'Retry-After': retryAfter } : undefined,
  });
}

/** An error event inside an upstream's stream → AppError (502 unless the event names its kind). */
export function streamError(name: string, event: unknown): AppError {
  const found = describe(event);
  const message = found.message ? upstreamSays(name, found.message) : `${name} reported an error mid-stream`;
  return new AppError(found.status ?? 502, message, {
    code: found.code,
  });
}

/** One SSE `data` payload as JSON; 502 when the upstream sent something else. */
export function parseEvent(name: string, data: string): unknown {
  try {
    return JSON.parse(data);
  } catch (err) {
    throw new AppError(502, `${name} sent an unreadable stream event`, { code: 'upstream_stream_failed', cause: err });
  }
}

/** 502 for a stream that ended before the upstream said it was done (callers end quietly instead after an abort). */
export function upstreamEndedEarly(name: string): AppError {
  return endedEarly(name, 'upstream_stream_failed');
}

/**
 * POSTs JSON with retries (429, 5xx and connection errors, before any answer);
 * once the upstream answered 2xx, resolves with the `data` payloads of its SSE
 * stream. Aborting `signal` ends the stream quietly (the consumer sees it end);
 * a consumer that stops early closes the connection.
 */
export async function postForSSE({
  name,
  url,
  headers,
  body,
  signal,
  fetch = globalFetch,
  retry,
}: UpstreamRequest): Promise<AsyncIterable<string>> {
  const closer = new AbortController();
  const linked = signal ? AbortSignal.any([signal, closer.signal]) : closer.signal;
  const init: RequestInit = {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify(body),
    signal: linked,
  };
  let res: Response;
  try {
    res = await fetchWithRetry(() => fetch(url, init), { ...retry, signal });
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    const detail = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
    throw new AppError(502, `${name} could not be reached: ${detail}`, { code: 'upstream_unreachable', cause: err });
  }
  if (!res.ok || !res.body) throw await upstreamError(res, name);
  const stream = res.body;
  return (async function* () {
    try {
      yield* parseSSE(stream, linked);
    } catch (err) {
      if (linked.aborted) return;
      const detail = err instanceof Error ? err.message : String(err);
      throw new AppError(502, `${name} stream failed: ${detail}`, { code: 'upstream_stream_failed', cause: err });
    } finally {
      closer.abort();
    }
  })();
}
