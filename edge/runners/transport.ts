/** What the edge reads of a runner's answer: the part of `Response` it uses, so a Node transport can skip building one. */
export interface TransportResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null; forEach(fn: (value: string, name: string) => void): void };
  /** The body as a stream (event streams). */
  readonly body: ReadableStream<Uint8Array> | null;
  json(): Promise<unknown>;
  text(): Promise<string>;
}

export interface TransportInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** The answer is a long event stream (chat, load): a transport may keep such calls apart from short ones. */
  stream?: boolean;
}

/** How the edge reaches a runner: `fetch` by default; a Node entry may inject a faster one. Failures to get an answer throw `TransportError`. */
export type Transport = (url: string, init: TransportInit) => Promise<TransportResponse>;

/**
 * No answer came from the runner. `sent` says whether the request may have
 * reached it: false only when the connection itself failed (refused, no
 * such host, connect timeout), so the call can safely go to another runner.
 */
export class TransportError extends Error {
  override name = 'TransportError';
  constructor(
    message: string,
    readonly sent: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Error codes (Node, undici) that mean the connection was never made. */
const NOT_CONNECTED = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Wraps what a transport threw; `sent` is false only when the cause chain names a connection failure. */
export function toTransportError(err: unknown): TransportError {
  if (err instanceof TransportError) return err;
  const codes: string[] = [];
  const messages: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    if (e instanceof Error && e.message) messages.push(e.message);
    if (e instanceof AggregateError) for (const inner of e.errors) codes.push(String(inner?.code ?? ''));
  }
  const sent = !codes.some((c) => NOT_CONNECTED.has(c));
  return new TransportError(messages.at(-1) ?? String(err), sent, { cause: err });
}

export const fetchTransport: Transport = async (url, { stream: _stream, ...init }) => {
  try {
    return await fetch(url, init);
  } catch (err) {
    if (init.signal?.aborted) throw err;
    throw toTransportError(err);
  }
};
