import { AppError } from '../../shared/errors.ts';
import type { GuardedFetch } from '../net/ssrf.ts';
import { base64Length, base64PartsInto, bytesToBase64 } from './base64.ts';
import { describeUrl, targetUrl, upstreamStatusError } from './upstream.ts';

/** The raw bytes of a chunk event, as the reads that brought them (not serialised, not concatenated). */
export const CHUNK_PARTS = Symbol('chunk parts');

/** A piece of the body. */
export interface UrlStreamChunk {
  [CHUNK_PARTS]?: readonly Uint8Array[];
  /**
   * Percent of the announced Content-Length received so far, 0–100 with one decimal, never above 100 (a
   * server that sends more than it announced stays at 100). `null` when the length is unknown: no
   * Content-Length (a chunked body), or a compressed one (its length is not the decoded body's).
   */
  progress: number | null;
  /** The bytes, base64 (computed when read). */
  readonly chunk: string;
  /** The Content-Type header; '' when the server sent none. */
  content_type: string;
  /** Bytes received so far, this chunk included. */
  received: number;
  /** The announced length in bytes; null when unknown. */
  total: number | null;
}

/** The body ended. `received` below the announced total means the server announced more than it sent. */
export interface UrlStreamCompleted {
  status: 'completed';
  received: number;
}

export type UrlStreamEvent = UrlStreamChunk | UrlStreamCompleted;

export interface StreamOptions {
  /** The SSRF guard: every request and redirect goes through it. */
  fetch: GuardedFetch;
  /** The consumer's: its abort cancels the request and the body. */
  signal?: AbortSignal;
  /** Most bytes in one event, default 64 KiB. */
  chunkBytes?: number;
  /** How long to wait for the response headers, default 30 s (then 504 `upstream_timeout`). */
  headersTimeoutMs?: number;
  /**
   * A slow body does not hold back what already arrived: when the next read has not completed after this
   * many ms, the bytes gathered so far go out as a smaller chunk. Default 100 ms; 0: only full chunks.
   */
  flushAfterMs?: number;
}

const DEFAULT_CHUNK_BYTES = 64 * 1024;

function announcedLength(headers: Headers): number | null {
  const encoding = headers.get('content-encoding')?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') return null;
  const value = headers.get('content-length')?.trim();
  return value && /^\d+$/.test(value) ? Number(value) : null;
}

type Read = ReadableStreamReadResult<Uint8Array>;

/** The read's result, or undefined when it has not completed within `ms`. */
async function within(read: Promise<Read>, ms: number): Promise<Read | undefined> {
  let stop = () => {};
  const late = new Promise<undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    stop = () => clearTimeout(timer);
  });
  try {
    return await Promise.race([read, late]);
  } finally {
    stop();
  }
}

/** The first `size` bytes of `parts` (removed from it) as views, without copying; the rest stays in `parts`. */
function take(parts: Uint8Array[], size: number): Uint8Array[] {
  const taken: Uint8Array[] = [];
  for (let left = size; left > 0;) {
    const part = parts[0]!;
    if (part.byteLength <= left) {
      taken.push(parts.shift()!);
      left -= part.byteLength;
    } else {
      taken.push(part.subarray(0, left));
      parts[0] = part.subarray(left);
      left = 0;
    }
  }
  return taken;
}

function concat(parts: readonly Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/**
 * `url_stream`: a URL's body as base64 chunks with progress, then `{status: 'completed', received}`.
 * Resolves once the response headers arrived, so a refused URL (400 `ssrf_blocked`), an unreachable host
 * (502), no headers within `headersTimeoutMs` (504 `upstream_timeout`) or an error status (502
 * `upstream_error`) is thrown here, before any event. No size limit and no overall timeout (long media).
 *
 * Pull-based: the body is read only when the consumer asks for the next event, so a slow consumer slows
 * the download (back-pressure) and at most one chunk is held here. Chunks hold at most `chunkBytes`:
 * large reads are split, small ones gathered (see `flushAfterMs`). Ending the iteration early (`return`)
 * or aborting `signal` cancels the body.
 *
 * A body cut short (the connection broke before the announced Content-Length) makes the iterator throw the
 * guard's 502 `upstream_unreachable` after the chunks that did arrive: over HTTP/1.1 and HTTP/2 a short
 * body is a failure, not an end. Where a runtime ends such a body cleanly instead, the final event says so
 * with `received` below `total`. A body longer than announced streams on, its progress held at 100.
 */
export async function streamUrl(url: string, options: StreamOptions): Promise<AsyncIterable<UrlStreamEvent>> {
  const { fetch, signal, chunkBytes = DEFAULT_CHUNK_BYTES } = options;
  const { headersTimeoutMs = 30_000, flushAfterMs = 100 } = options;
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1) throw new RangeError('chunkBytes must be a positive integer');
  const target = targetUrl(url);
  const deadline = new AbortController();
  const timer = setTimeout(() => {
    const message = `no answer from ${describeUrl(target)} within ${headersTimeoutMs} ms`;
    deadline.abort(new AppError(504, message, { code: 'upstream_timeout' }));
  }, headersTimeoutMs);
  let response: Response;
  try {
    response = await fetch(target, {
      headers: { 'accept-encoding': 'identity' },
      signal: signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal,
      timeoutMs: 0,
      maxBytes: 0,
    });
  } finally {
    clearTimeout(timer);
  }
  if (response.status >= 400) throw await upstreamStatusError(response, target);
  return chunks(response, { chunkBytes, flushAfterMs, signal });
}

async function* chunks(
  response: Response,
  { chunkBytes, flushAfterMs, signal }: { chunkBytes: number; flushAfterMs: number; signal?: AbortSignal },
): AsyncGenerator<UrlStreamEvent, void, undefined> {
  const content_type = response.headers.get('content-type') ?? '';
  const total = announcedLength(response.headers);
  let received = 0;
  const event = (bytes: Uint8Array[], size: number): UrlStreamChunk => {
    received += size;
    const progress =
      total === null ? null : total === 0 ? 100 : Math.min(100, Math.floor((received / total) * 1000) / 10);
    // `chunk` is encoded when read (JSON.stringify reads it too); `CHUNK_PARTS` keeps the bytes for encoders
    // that write the event themselves (see chunkEventBytes).
    return {
      progress,
      get chunk() {
        return bytesToBase64(concat(bytes, size));
      },
      content_type,
      received,
      total,
      [CHUNK_PARTS]: bytes,
    };
  };
  if (!response.body) {
    yield { status: 'completed', received };
    return;
  }
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let buffered = 0;
  const drain = (size: number): UrlStreamChunk => {
    buffered -= size;
    return event(take(parts, size), size);
  };
  let pending: Promise<Read> | undefined;
  let ended = false;
  try {
    for (;;) {
      while (buffered >= chunkBytes) yield drain(chunkBytes);
      if (!pending) {
        pending = reader.read();
        pending.catch(() => {}); // awaited below; this only keeps a rejection during a yield from being unhandled
      }
      let read: Read | undefined;
      try {
        read = buffered > 0 && flushAfterMs > 0 ? await within(pending, flushAfterMs) : await pending;
      } catch (err) {
        if (buffered > 0 && !signal?.aborted) yield drain(buffered); // what did arrive, then the failure
        throw err;
      }
      if (!read) {
        yield drain(buffered); // the body is slow: what arrived goes out now, the read stays pending
        continue;
      }
      pending = undefined;
      if (read.done) break;
      parts.push(read.value);
      buffered += read.value.byteLength;
    }
    ended = true;
    if (buffered > 0) yield drain(buffered);
    yield { status: 'completed', received };
  } catch (err) {
    throw signal?.aborted ? signal.reason : err;
  } finally {
    if (!ended) reader.cancel().catch(() => {});
  }
}

const encoder = new TextEncoder();

/**
 * A chunk event as SSE bytes, written directly: `data: {"progress","chunk","content_type","received","total"}`
 * with the base64 written into the event's buffer (see base64Into), never built as one long string and encoded again.
 */
export function chunkEventBytes(event: UrlStreamChunk): Uint8Array {
  const raw = event[CHUNK_PARTS];
  if (!raw) return encoder.encode(`data: ${JSON.stringify(event)}\n\n`);
  const head = encoder.encode(`data: {"progress":${JSON.stringify(event.progress)},"chunk":"`);
  const tail = encoder.encode(
    `","content_type":${JSON.stringify(event.content_type)},"received":${event.received},"total":${JSON.stringify(event.total)}}\n\n`,
  );
  let size = 0;
  for (const part of raw) size += part.byteLength;
  const bodyLength = base64Length(size);
  const out = new Uint8Array(head.length + bodyLength + tail.length);
  out.set(head, 0);
  base64PartsInto(raw, out.subarray(head.length, head.length + bodyLength));
  out.set(tail, head.length + bodyLength);
  return out;
}
