import { createProviderRegistry } from '../../edge/providers/provider-registry.ts';
import { ProviderInference } from '../../edge/providers/provider-inference.ts';
import { createGuardedFetch } from '../../edge/net/ssrf.ts';
import type { ExecDeps } from '../../edge/exec/round-services.ts';
import type { ExecTool } from '../../edge/exec/tool.ts';
import { localTestInference, testApp, type TestAppOptions } from './test-app.ts';
import type { ScriptedUpstream } from './scripted-upstream.ts';

/**
 * The real app whose hosted OpenAI provider is `upstream` (a scripted local server), over the tiny local
 * models; `adapters` adds tool types (stand-ins for outside services such as a search engine).
 */
export async function execTestApp(
  upstream: ScriptedUpstream,
  { adapters = {}, ...options }: TestAppOptions & { adapters?: ExecDeps['adapters'] } = {},
) {
  const registry = createProviderRegistry({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: upstream.url });
  const exec: ExecDeps = { fetch: createGuardedFetch({ allowlist: ['127.0.0.1'] }), adapters };
  return testApp({
    inference: new ProviderInference(localTestInference(), registry),
    ...options,
    extra: { exec, ...options.extra },
  });
}

/** Splits an SSE body the way the API document's own client does (blank lines, `data: ` prefix). */
export function documentEvents(text: string): Record<string, unknown>[] {
  return text
    .split('\n\n')
    .filter((line) => line.startsWith('data: '))
    .map((event) => JSON.parse(event.replace('data: ', '')) as Record<string, unknown>);
}

/** `call(key, path, body?, method?)` on `/llm-exec`: GET without a body, POST with one, as `key`. */
export function execCaller(app: { request: (path: string, init: RequestInit) => Response | Promise<Response> }) {
  return (key: string, path: string, body?: unknown, method = body === undefined ? 'GET' : 'POST') =>
    app.request(`/llm-exec${path}`, {
      method,
      headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
}

/** A JSON POST's request init. */
export const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

/** A client-side tool that asks the user one question. */
export const ASK = {
  type: 'custom',
  name: 'ask_user',
  parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
};

/** A search-engine stand-in: one `web_search` tool whose run the test controls. */
export function searchTool(run: ExecTool['run']): { websearch: () => ExecTool[] } {
  return {
    websearch: () => [
      {
        name: 'web_search',
        description: 'Searches the web',
        parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
        run,
      },
    ],
  };
}
