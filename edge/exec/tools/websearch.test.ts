import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { WebSearchTool } from '../../../shared/schemas/exec.ts';
import type { ToolRunContext } from '../tool.ts';
import { cleanSnippet, MAX_SNIPPET_CHARS } from '../websearch/search-provider.ts';
import { searchProviderFromEnv, webSearchAdapter, type SearchProvider } from './websearch.ts';

interface Received {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: string;
}

/** What the next request gets instead of results: a status and body, or no answer at all. */
type Override = { status: number; body: string; headers?: Record<string, string> } | 'hang';

const BRAVE_KEY = 'brave-test-key';
const TAVILY_KEY = 'tvly-test-key';

const longText = 'word '.repeat(300);

function results(count: number, field: string): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => ({
    title: `Result <b>${i}</b>`,
    url: `https://example.com/${i}`,
    [field]: i === 0 ? `<strong>Edge</strong> &amp; <em>runner</em>\n  docs &#39;here&#39;` : longText,
  }));
}

/** One local server imitating SearXNG (`/searxng/search`), Brave (`/brave`) and Tavily (`/tavily`). */
let server: Server;
let base: string;
let received: Received[] = [];
let override: Override | undefined;
let hung = 0;

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      const url = new URL(req.url!, 'http://127.0.0.1');
      received.push({ method: req.method!, url, headers: req.headers, body });
      if (override === 'hang') {
        hung++;
        return; // never answers; the client's abort closes the socket
      }
      if (override) return send(res, override.status, override.body, override.headers);
      if (url.pathname === '/searxng/search') {
        if (req.method !== 'GET' || url.searchParams.get('format') !== 'json') return send(res, 400, 'bad request');
        return send(res, 200, { query: url.searchParams.get('q'), results: results(25, 'content') });
      }
      if (url.pathname === '/brave') {
        if (req.headers['x-subscription-token'] !== BRAVE_KEY) return send(res, 401, { error: 'bad token' });
        const count = Number(url.searchParams.get('count'));
        return send(res, 200, { type: 'search', web: { results: results(count, 'description') } });
      }
      if (url.pathname === '/tavily') {
        if (req.method !== 'POST' || req.headers.authorization !== `Bearer ${TAVILY_KEY}`) {
          return send(res, 401, { detail: { error: 'Unauthorized: missing or invalid API key.' } });
        }
        const { max_results } = JSON.parse(body) as { query: string; max_results: number };
        return send(res, 200, { results: results(max_results, 'content'), response_time: 0.1 });
      }
      send(res, 404, 'not found');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  received = [];
  override = undefined;
});

const envs = () => ({
  searxng: { WEBSEARCH_PROVIDER: 'searxng', SEARXNG_URL: `${base}/searxng` },
  brave: { WEBSEARCH_PROVIDER: 'brave', BRAVE_API_KEY: BRAVE_KEY, BRAVE_BASE_URL: `${base}/brave` },
  tavily: { WEBSEARCH_PROVIDER: 'tavily', TAVILY_API_KEY: TAVILY_KEY, TAVILY_BASE_URL: `${base}/tavily` },
});

function context(signal = new AbortController().signal): ToolRunContext {
  return { signal, fetch: () => Promise.reject(new Error('the guarded fetch is not for provider URLs')) };
}

function tool(provider: SearchProvider, definition: Partial<WebSearchTool> = {}) {
  const [only, ...rest] = webSearchAdapter(provider)({ type: 'websearch', ...definition });
  expect(rest).toEqual([]);
  return only!;
}

async function search(env: Record<string, unknown>, args: Record<string, unknown>, definition = {}) {
  const provider = searchProviderFromEnv(env)!;
  const output = await tool(provider, definition).run!(args, context(AbortSignal.timeout(10_000)));
  return output.result as { results: { title: string; url: string; snippet: string }[] };
}

describe('providers against a local imitation of their APIs', () => {
  it('searxng: GET /search with q and format=json, cut to max_results', async () => {
    const { results } = await search(envs().searxng, { query: 'edge runner' });
    expect(results).toHaveLength(5);
    expect(results[0]).toEqual({
      title: 'Result 0',
      url: 'https://example.com/0',
      snippet: "Edge & runner docs 'here'",
    });
    const [request] = received;
    expect(request!.method).toBe('GET');
    expect(request!.url.pathname).toBe('/searxng/search');
    expect(request!.url.searchParams.get('q')).toBe('edge runner');
    expect(request!.url.searchParams.get('format')).toBe('json');
  });

  it('brave: GET with q, count and the subscription token', async () => {
    const { results } = await search(envs().brave, { query: 'workers', max_results: 3 });
    expect(results.map((r) => r.url)).toEqual([0, 1, 2].map((i) => `https://example.com/${i}`));
    expect(results[0]!.snippet).toBe("Edge & runner docs 'here'");
    const [request] = received;
    expect(request!.url.pathname).toBe('/brave');
    expect(request!.url.searchParams.get('q')).toBe('workers');
    expect(request!.url.searchParams.get('count')).toBe('3');
    expect(request!.headers['x-subscription-token']).toBe(BRAVE_KEY);
  });

  it('tavily: POST JSON { query, max_results } with a Bearer key', async () => {
    const { results } = await search(envs().tavily, { query: 'hono' }, { max_results: 2 });
    expect(results).toHaveLength(2);
    const [request] = received;
    expect(request!.method).toBe('POST');
    expect(request!.headers.authorization).toBe(`Bearer ${TAVILY_KEY}`);
    expect(request!.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(request!.body)).toEqual({ query: 'hono', max_results: 2 });
  });

  it('caps each snippet', async () => {
    const { results } = await search(envs().searxng, { query: 'long' });
    expect(results[1]!.snippet.length).toBe(MAX_SNIPPET_CHARS);
    expect(results[1]!.snippet.endsWith('…')).toBe(true);
  });
});

describe('max_results', () => {
  it('defaults to 5; the model may ask up to 20 when the definition sets none', async () => {
    await search(envs().brave, { query: 'q' });
    await search(envs().brave, { query: 'q', max_results: 20 });
    await search(envs().brave, { query: 'q', max_results: 99 });
    expect(received.map((r) => r.url.searchParams.get('count'))).toEqual(['5', '20', '20']);
  });

  it("the definition's max_results is the default and the most the model may ask for", async () => {
    const provider = searchProviderFromEnv(envs().brave)!;
    const t = tool(provider, { max_results: 4 });
    expect((t.parameters as { properties: { max_results: { maximum: number } } }).properties.max_results.maximum).toBe(
      4,
    );
    await search(envs().brave, { query: 'q' }, { max_results: 4 });
    await search(envs().brave, { query: 'q', max_results: 10 }, { max_results: 4 });
    await search(envs().brave, { query: 'q', max_results: 2 }, { max_results: 4 });
    expect(received.map((r) => r.url.searchParams.get('count'))).toEqual(['4', '4', '2']);
  });
});

describe('the tool', () => {
  it('is named web_search unless the definition names it, with query required', () => {
    const provider = searchProviderFromEnv(envs().searxng)!;
    expect(tool(provider).name).toBe('web_search');
    expect(tool(provider).parameters).toMatchObject({ type: 'object', required: ['query'] });
    const named = tool(provider, { name: 'lookup', description: 'Find things.' });
    expect(named.name).toBe('lookup');
    expect(named.description).toBe('Find things.');
  });

  it('an empty query is a tool error, not a request', async () => {
    const output = await tool(searchProviderFromEnv(envs().searxng)!).run!({ query: '  ' }, context());
    expect(output.isError).toBe(true);
    expect(received).toHaveLength(0);
  });

  it('an upstream 500 fails with the status and an excerpt of the body', async () => {
    override = { status: 500, body: '<html><body><h1>Internal failure in engine</h1></body></html>' };
    await expect(search(envs().tavily, { query: 'q' })).rejects.toThrow(
      'tavily search failed: HTTP 500: Internal failure in engine',
    );
  });

  it('a 429 says the provider is rate-limited', async () => {
    override = { status: 429, body: '{"message":"quota exceeded"}', headers: { 'retry-after': '30' } };
    await expect(search(envs().brave, { query: 'q' })).rejects.toThrow(
      /brave search is rate-limited \(HTTP 429\) \(retry after 30 s\).*quota exceeded/,
    );
  });

  it('a wrong key is the upstream 401', async () => {
    const env = { ...envs().brave, BRAVE_API_KEY: 'wrong' };
    await expect(search(env, { query: 'q' })).rejects.toThrow('brave search failed: HTTP 401');
  });

  it('stops when the signal aborts', async () => {
    override = 'hang';
    const before = hung;
    const controller = new AbortController();
    const run = tool(searchProviderFromEnv(envs().searxng)!).run!({ query: 'q' }, context(controller.signal));
    await expect.poll(() => hung).toBe(before + 1);
    controller.abort(new Error('client left'));
    await expect(run).rejects.toThrow('client left');
  });

  it('does not start when the signal is already aborted', async () => {
    const run = tool(searchProviderFromEnv(envs().searxng)!).run!({ query: 'q' }, context(AbortSignal.abort()));
    await expect(run).rejects.toThrow();
    expect(received).toHaveLength(0);
  });
});

describe('searchProviderFromEnv', () => {
  it('is undefined without any web search setting', () => {
    expect(searchProviderFromEnv({})).toBeUndefined();
    expect(searchProviderFromEnv({ SEARXNG_URL: '', BRAVE_API_KEY: '  ' })).toBeUndefined();
  });

  it('picks by WEBSEARCH_PROVIDER', () => {
    const all = { SEARXNG_URL: 'http://127.0.0.1:1', BRAVE_API_KEY: 'b', TAVILY_API_KEY: 't' };
    expect(searchProviderFromEnv({ ...all, WEBSEARCH_PROVIDER: 'tavily' })!.name).toBe('tavily');
    expect(searchProviderFromEnv({ ...all, WEBSEARCH_PROVIDER: 'Brave' })!.name).toBe('brave');
  });

  it('when unset, picks the provider whose setting is present (searxng, then brave, then tavily)', () => {
    expect(searchProviderFromEnv({ TAVILY_API_KEY: 't' })!.name).toBe('tavily');
    expect(searchProviderFromEnv({ BRAVE_API_KEY: 'b', TAVILY_API_KEY: 't' })!.name).toBe('brave');
    expect(searchProviderFromEnv({ SEARXNG_URL: 'http://127.0.0.1:1', BRAVE_API_KEY: 'b' })!.name).toBe('searxng');
  });

  it('refuses a bad configuration', () => {
    expect(() => searchProviderFromEnv({ WEBSEARCH_PROVIDER: 'brave' })).toThrow(
      'WEBSEARCH_PROVIDER is brave but BRAVE_API_KEY is not set',
    );
    expect(() => searchProviderFromEnv({ WEBSEARCH_PROVIDER: 'tavily', BRAVE_API_KEY: 'b' })).toThrow(
      'TAVILY_API_KEY is not set',
    );
    expect(() => searchProviderFromEnv({ WEBSEARCH_PROVIDER: 'google' })).toThrow(
      'WEBSEARCH_PROVIDER must be one of searxng, brave, tavily',
    );
    expect(() => searchProviderFromEnv({ SEARXNG_URL: 'not a url' })).toThrow('SEARXNG_URL is not a valid URL');
    expect(() => searchProviderFromEnv({ SEARXNG_URL: 'ftp://host' })).toThrow('SEARXNG_URL must be an http(s) URL');
    expect(() => searchProviderFromEnv({ BRAVE_API_KEY: 'b', BRAVE_BASE_URL: '::' })).toThrow(
      'BRAVE_BASE_URL is not a valid URL',
    );
  });

  it('uses the fetch it is handed', async () => {
    const seen: string[] = [];
    const provider = searchProviderFromEnv(
      { TAVILY_API_KEY: 'k' },
      {
        fetch: async (input) => {
          seen.push(String(input));
          return Response.json({ results: [{ title: 't', url: 'https://a.example/', content: 'c' }] });
        },
      },
    )!;
    const hits = await provider.search('q', { count: 1, signal: new AbortController().signal });
    expect(seen).toEqual(['https://api.tavily.com/search']);
    expect(hits).toEqual([{ title: 't', url: 'https://a.example/', snippet: 'c' }]);
  });
});

describe('cleanSnippet', () => {
  it('strips tags, scripts and entities and collapses whitespace', () => {
    expect(cleanSnippet('<p>a&nbsp;<script>alert(1)</script>b &lt;tag&gt; &#x41;</p>\n\n c')).toBe('a b <tag> A c');
    expect(cleanSnippet('x < y and y > z')).toBe('x < y and y > z');
    expect(cleanSnippet(undefined)).toBe('');
  });
});
