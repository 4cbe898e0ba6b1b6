/** What the edge reads of a runner's answer: the part of `Response` it uses, so a Node transport can skip building one. */
export interface TransportResponse {
  readonly status: number;
  readonly ok: boolean;
  /** The body as a stream (event streams). */
  readonly body: ReadableStream<Uint8Array> | null;
  json(): Promise<unknown>;
  text(): Promise<string>;
}

/** How the edge reaches a runner: `fetch` by default; a Node entry may inject a faster one. */
export type Transport = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal },
) => Promise<TransportResponse>;

export const fetchTransport: Transport = (url, init) => fetch(url, init);
