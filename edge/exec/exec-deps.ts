import { createGuardedFetch, type GuardedFetch } from '../net/ssrf.ts';
import type { ExecDeps } from './round-services.ts';
import { mcpAdapter } from './tools/mcp.ts';
import { openApiAdapter } from './tools/openapi.ts';
import { searchProviderFromEnv, webSearchAdapter } from './tools/websearch.ts';

export interface ExecDepsOptions {
  /** The SSRF-guarded fetch (Node injects one that also checks at connect time); default `createGuardedFetch({ allowlist })`. */
  fetch?: GuardedFetch;
  /** `SSRF_ALLOWLIST`, parsed (used when `fetch` is not given). */
  allowlist?: readonly string[];
  /**
   * Where the web-search provider is configured (`WEBSEARCH_PROVIDER`, `SEARXNG_URL`, `BRAVE_API_KEY`,
   * `TAVILY_API_KEY`), and `YOUTUBE_ORIGIN`.
   */
  env?: Record<string, unknown>;
  /** The fetch web-search providers use (operator-configured hosts, not user input); default the global one. */
  searchFetch?: typeof fetch;
}

/**
 * The agent API's services for a deployment: the one SSRF-guarded fetch, and the adapters of `mcp`,
 * `openapi` and `websearch` (whose calls are tool errors when no provider is configured), and the web tools'
 * YouTube origin. Throws on a bad web-search configuration or a `YOUTUBE_ORIGIN` that is not an http(s) origin.
 */
export function createExecDeps({ fetch, allowlist = [], env = {}, searchFetch }: ExecDepsOptions = {}): ExecDeps {
  const guarded = fetch ?? createGuardedFetch({ allowlist });
  const search = searchProviderFromEnv(env, { fetch: searchFetch });
  return {
    fetch: guarded,
    youtubeOrigin: youtubeOrigin(env.YOUTUBE_ORIGIN),
    adapters: {
      mcp: mcpAdapter(),
      openapi: openApiAdapter(),
      websearch: webSearchAdapter(search),
    },
  };
}

function youtubeOrigin(value: unknown): string | undefined {
  if (value === undefined || value === '') return undefined;
  const url = typeof value === 'string' && URL.canParse(value) ? new URL(value) : undefined;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search)
    throw new Error(`YOUTUBE_ORIGIN: "${String(value)}" is not an http(s) origin such as https://www.youtube.com`);
  return url.origin;
}
