/** How the edge reaches a runner: `fetch` by default; a Node entry may inject a faster one. */
export type Transport = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal },
) => Promise<Response>;

export const fetchTransport: Transport = (url, init) => fetch(url, init);
