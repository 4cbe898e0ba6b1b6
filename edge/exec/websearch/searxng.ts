import {
  configUrl,
  globalFetch,
  readProviderJson,
  toHits,
  type FetchLike,
  type SearchProvider,
} from './search-provider.ts';

export interface SearxngOptions {
  /** The instance's base URL (`SEARXNG_URL`), e.g. `http://127.0.0.1:8888` or `https://host/searxng`. */
  url: string;
  fetch?: FetchLike;
}

/** A SearXNG instance: `GET {url}/search?q=…&format=json` (the instance must allow the `json` format). */
export function searxngProvider({ url, fetch = globalFetch }: SearxngOptions): SearchProvider {
  const base = configUrl('SEARXNG_URL', url);
  const endpoint = new URL('search', base.href.endsWith('/') ? base : `${base.href}/`);
  return {
    name: 'searxng',
    async search(query, { count, signal }) {
      const target = new URL(endpoint);
      target.searchParams.set('q', query);
      target.searchParams.set('format', 'json');
      const response = await fetch(target.href, { headers: { accept: 'application/json' }, signal });
      const body = await readProviderJson('searxng', response);
      return toHits(body.results, 'content', count);
    },
  };
}
