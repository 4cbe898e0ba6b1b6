import {
  configUrl,
  globalFetch,
  readProviderJson,
  toHits,
  type FetchLike,
  type SearchProvider,
} from './search-provider.ts';

/** Tavily's search endpoint. */
export const TAVILY_BASE_URL = 'https://api.tavily.com/search';

export interface TavilyOptions {
  /** `TAVILY_API_KEY`, sent as `Authorization: Bearer`. */
  apiKey: string;
  /** Default TAVILY_BASE_URL (`TAVILY_BASE_URL` env). */
  baseUrl?: string;
  fetch?: FetchLike;
}

/** The Tavily API: `POST {baseUrl}` with `{ query, max_results }`, results in `results[]`. */
export function tavilyProvider({
  apiKey,
  baseUrl = TAVILY_BASE_URL,
  fetch = globalFetch,
}: TavilyOptions): SearchProvider {
  const endpoint = configUrl('TAVILY_BASE_URL', baseUrl).href;
  return {
    name: 'tavily',
    async search(query, { count, signal }) {
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
        body: JSON.stringify({ query, max_results: count }),
        signal,
      });
      const body = await readProviderJson('tavily', response);
      return toHits(body.results, 'content', count);
    },
  };
}
