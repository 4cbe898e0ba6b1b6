/** One web search result as the model reads it. */
export interface SearchHit {
  title: string;
  url: string;
  /** Plain text (no HTML), at most MAX_SNIPPET_CHARS characters. */
  snippet: string;
}

export interface SearchOptions {
  /** How many results are wanted (1–20). */
  count: number;
  signal: AbortSignal;
}

/** A web search API (SearXNG, Brave, Tavily) behind one interface. */
export interface SearchProvider {
  readonly name: string;
  search(query: string, options: SearchOptions): Promise<SearchHit[]>;
}

/** What every provider is handed: the plain fetch (default: the global one). */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** Longest snippet kept; longer ones end with `…`. */
export const MAX_SNIPPET_CHARS = 500;

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** Snippet text without HTML tags or entities, whitespace collapsed, capped at MAX_SNIPPET_CHARS. */
export function cleanSnippet(value: unknown): string {
  if (typeof value !== 'string') return '';
  const text = value
    .replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<\/?[a-zA-Z][^>]*>/g, '')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
      if (name[0] !== '#') return ENTITIES[name.toLowerCase()] ?? whole;
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    })
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > MAX_SNIPPET_CHARS ? `${text.slice(0, MAX_SNIPPET_CHARS - 1).trimEnd()}…` : text;
}

/** The hits of a provider's result list: entries without a URL are dropped, at most `count` kept. */
export function toHits(items: unknown, snippetField: string, count: number): SearchHit[] {
  if (!Array.isArray(items)) return [];
  const hits: SearchHit[] = [];
  for (const item of items) {
    if (hits.length >= count) break;
    if (!item || typeof item !== 'object') continue;
    const record = item as Record<string, unknown>;
    if (typeof record.url !== 'string' || !record.url) continue;
    hits.push({
      title: cleanSnippet(record.title) || record.url,
      url: record.url,
      snippet: cleanSnippet(record[snippetField]),
    });
  }
  return hits;
}

/** The JSON body of a provider's answer; a non-2xx status or a body that is no JSON is an Error naming the provider. */
export async function readProviderJson(provider: string, response: Response): Promise<Record<string, unknown>> {
  if (!response.ok) {
    const excerpt = cleanSnippet(await response.text().catch(() => '')).slice(0, 200);
    const detail = excerpt ? `: ${excerpt}` : '';
    if (response.status === 429) {
      const retry = response.headers.get('retry-after');
      const wait = retry ? ` (retry after ${retry} s)` : '';
      throw new Error(`${provider} search is rate-limited (HTTP 429)${wait}${detail}`);
    }
    throw new Error(`${provider} search failed: HTTP ${response.status}${detail}`);
  }
  const text = await response.text();
  try {
    const body: unknown = JSON.parse(text);
    if (body && typeof body === 'object' && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new Error(`${provider} search answered something that is not a JSON object`);
}

/** A base URL from the configuration: http(s) only; a bad one throws naming the variable. */
export function configUrl(variable: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${variable} is not a valid URL: ${value}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`${variable} must be an http(s) URL: ${value}`);
  }
  return url;
}

/** The global fetch, called unbound (workerd refuses `fetch` invoked as a method of another object). */
export const globalFetch: FetchLike = (input, init) => fetch(input, init);
