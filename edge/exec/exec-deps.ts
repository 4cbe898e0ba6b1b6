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
  /** Where the web-search provider is configured (`WEBSEARCH_PROVIDER`, `SEARXNG_URL`, `BRAVE_API_KEY`, `TAVILY_API_KEY`). */
  env?: Record<string, unknown>;
  /** The fetch web-search providers use (operator-configured hosts, not user input); default the global one. */
  searchFetch?: typeof fetch;
}

/**
 * The agent API's services for a deployment: the one SSRF-guarded fetch, and the adapters of `mcp`,
 * `openapi` and `websearch` (whose calls are tool errors when no provider is configured). Throws on a bad web-search configuration.
 */
export function createExecDeps({ fetch, allowlist = [], env = {}, searchFetch }: ExecDepsOptions = {}): ExecDeps {
  const guarded = fetch ?? createGuardedFetch({ allowlist });
  const search = searchProviderFromEnv(env, { fetch: searchFetch });
  return {
    fetch: guarded,
    adapters: {
      mcp: mcpAdapter(),
      openapi: openApiAdapter(),
      websearch: webSearchAdapter(search),
    },
  };
}
