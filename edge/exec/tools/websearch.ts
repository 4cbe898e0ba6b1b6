import type { WebSearchTool } from '../../../shared/schemas/exec.ts';
import type { ExecTool } from '../tool.ts';
import { braveProvider } from '../websearch/brave.ts';
import type { FetchLike, SearchHit, SearchProvider } from '../websearch/search-provider.ts';
import { searxngProvider } from '../websearch/searxng.ts';
import { tavilyProvider } from '../websearch/tavily.ts';

export type { SearchHit, SearchProvider } from '../websearch/search-provider.ts';

/** The providers `WEBSEARCH_PROVIDER` may name, in the order they are picked when it is unset. */
export const SEARCH_PROVIDERS = ['searxng', 'brave', 'tavily'] as const;
export type SearchProviderName = (typeof SEARCH_PROVIDERS)[number];

/** Results per search when neither the definition nor the model says; at most 20. */
export const DEFAULT_MAX_RESULTS = 5;
const MAX_RESULTS = 20;

const NOT_CONFIGURED =
  'no web search provider is configured on this server: set WEBSEARCH_PROVIDER (searxng, brave or tavily) and its SEARXNG_URL, BRAVE_API_KEY or TAVILY_API_KEY';

const REQUIRED: Record<SearchProviderName, string> = {
  searxng: 'SEARXNG_URL',
  brave: 'BRAVE_API_KEY',
  tavily: 'TAVILY_API_KEY',
};

function setting(env: Record<string, unknown>, name: string): string | undefined {
  const value = env[name];
  return typeof value === 'string' && value.trim() ? value.trim() : undefined;
}

/**
 * The web search provider the configuration names: `WEBSEARCH_PROVIDER` (`searxng` | `brave` | `tavily`),
 * or when unset the first of those whose setting is present (`SEARXNG_URL`, `BRAVE_API_KEY`,
 * `TAVILY_API_KEY`); undefined when none is. `BRAVE_BASE_URL` / `TAVILY_BASE_URL` replace the hosted
 * endpoints. Throws on a bad configuration (an unknown provider, a named one without its setting, a bad URL).
 */
export function searchProviderFromEnv(
  env: Record<string, unknown>,
  { fetch }: { fetch?: FetchLike } = {},
): SearchProvider | undefined {
  const named = setting(env, 'WEBSEARCH_PROVIDER')?.toLowerCase();
  if (named && !(SEARCH_PROVIDERS as readonly string[]).includes(named)) {
    throw new Error(`WEBSEARCH_PROVIDER must be one of ${SEARCH_PROVIDERS.join(', ')} (got "${named}")`);
  }
  const name = (named as SearchProviderName | undefined) ?? SEARCH_PROVIDERS.find((p) => setting(env, REQUIRED[p]));
  if (!name) return undefined;
  const required = setting(env, REQUIRED[name]);
  if (!required) throw new Error(`WEBSEARCH_PROVIDER is ${name} but ${REQUIRED[name]} is not set`);
  // Provider URLs are operator configuration, not user input: the plain fetch, not the SSRF guard.
  switch (name) {
    case 'searxng':
      return searxngProvider({ url: required, fetch });
    case 'brave':
      return braveProvider({ apiKey: required, baseUrl: setting(env, 'BRAVE_BASE_URL'), fetch });
    case 'tavily':
      return tavilyProvider({ apiKey: required, baseUrl: setting(env, 'TAVILY_BASE_URL'), fetch });
  }
}

/**
 * The `websearch` adapter over one provider: a function (`name`, default `web_search`) taking `query` and
 * an optional `max_results`, answering `{ results: [{ title, url, snippet }] }`. The definition's
 * `max_results` is the default and the most the model may ask for; without it, 5 and 20. Without a provider
 * (none configured) the tool is still offered, and each call is a tool error saying what to configure.
 */
export function webSearchAdapter(provider: SearchProvider | undefined) {
  return (definition: WebSearchTool): ExecTool[] => {
    const cap = definition.max_results ?? MAX_RESULTS;
    const fallback = Math.min(definition.max_results ?? DEFAULT_MAX_RESULTS, cap);
    return [
      {
        name: definition.name ?? 'web_search',
        description:
          definition.description ??
          'Searches the web. Returns results with title, URL and a snippet; cite the URLs you use.',
        parameters: {
          type: 'object',
          properties: {
            query: { type: 'string', minLength: 1, description: 'What to search for, as a search engine query.' },
            max_results: {
              type: 'integer',
              minimum: 1,
              maximum: cap,
              description: `How many results to return (default ${fallback}).`,
            },
          },
          required: ['query'],
        },
        run: async (args, { signal }) => {
          const query = typeof args.query === 'string' ? args.query.trim() : '';
          if (!query) return { result: 'Error: query must be a non-empty string', isError: true };
          const asked = typeof args.max_results === 'number' ? Math.trunc(args.max_results) : fallback;
          const count = Math.max(1, Math.min(asked, cap));
          signal.throwIfAborted();
          if (!provider) throw new Error(NOT_CONFIGURED);
          const hits: SearchHit[] = await provider.search(query, { count, signal });
          return { result: { results: hits.slice(0, count) } };
        },
      },
    ];
  };
}
