import {
  configUrl,
  globalFetch,
  readProviderJson,
  toHits,
  type FetchLike,
  type SearchProvider,
} from './search-provider.ts';

/** Brave's web search endpoint. */
export const BRAVE_BASE_URL = 'https://api.search.brave.com/res/v1/web/search';

export interface BraveOptions {
  /** `BRAVE_API_KEY`, sent as `X-Subscription-Token`. */
  apiKey: string;
  /** Default BRAVE_BASE_URL (`BRAVE_BASE_URL` env). */
  baseUrl?: string;
  fetch?: FetchLike;
}

/** The Brave Search API: `GET {baseUrl}?q=…&count=…`, results in `web.results[]`. */
export function braveProvider({ apiKey, baseUrl = BRAVE_BASE_URL, fetch = globalFetch }: BraveOptions): SearchProvider {
  const endpoint = configUrl('BRAVE_BASE_URL', baseUrl);
  return {
    name: 'brave',
    async search(query, { count, signal }) {
      const target = new URL(endpoint);
      target.searchParams.set('q', query);
      target.searchParams.set('count', String(count));
      const response = await fetch(target.href, {
        headers: { accept: 'application/json', 'x-subscription-token': apiKey },
        signal,
      });
      const body = await readProviderJson('brave', response);
      const web = body.web as { results?: unknown } | undefined;
      return toHits(web?.results, 'description', count);
    },
  };
}
