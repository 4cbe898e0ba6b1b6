import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExecDeps } from '../exec/exec-deps.ts';
import { STRIPE_DOCUMENT } from '../../test/fixtures/openapi-stripe.ts';
import { MemoryRateLimiter } from '../middleware/rate-limit.ts';
import { documentEvents, execTestApp } from '../../test/helpers/exec-app.ts';
import { scriptedUpstream, type ScriptedUpstream } from '../../test/helpers/scripted-upstream.ts';

/** A local HTTP server standing in for a customer's API and a SearXNG instance; records what arrives. */
let api: Server;
let apiUrl = '';
const arrived: { method: string; path: string; authorization?: string; type?: string; body: string }[] = [];
let upstream: ScriptedUpstream;

beforeAll(async () => {
  upstream = await scriptedUpstream();
  api = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const url = new URL(req.url!, 'http://x');
      arrived.push({
        method: req.method!,
        path: url.pathname,
        authorization: req.headers.authorization,
        type: req.headers['content-type'],
        body,
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      if (url.pathname === '/search') {
        res.end(
          JSON.stringify({
            results: [{ title: 'Hono', url: 'https://hono.dev', content: '<b>Fast</b> web framework' }],
          }),
        );
      } else res.end(JSON.stringify({ id: 'cus_1', object: 'customer' }));
    });
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await upstream.close();
  api.closeAllConnections();
  api.close();
});

const post = (
  app: { request: (p: string, i: RequestInit) => Response | Promise<Response> },
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
) =>
  app.request(`/llm-exec${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

const lastTool = (body: { messages: { role: string }[] }) => body.messages.at(-1)?.role === 'tool';

describe('openapi tools in a round', () => {
  it("runs the document's Stripe example: createCustomer sent form-encoded with the bearer token", async () => {
    const stripe = {
      type: 'openapi',
      schema: STRIPE_DOCUMENT,
      base_url: apiUrl,
      description: 'Stripe',
      allowed_operations: ['listCustomers', 'createCustomer'],
      flatten: true,
      security: [{ type: 'http', scheme: 'bearer', value: 'sk_test_1234567890abcdef' }],
    };
    const { app, cleanup } = await execTestApp(upstream, {
      adapters: createExecDeps({ allowlist: ['127.0.0.1'] }).adapters,
    });
    upstream.script((body) =>
      lastTool(body)
        ? { text: 'Customer created.' }
        : { calls: [{ name: 'createCustomer', arguments: { email: 'ada@example.com', name: 'Ada' } }] },
    );
    const res = await post(app, '/round/stream', {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Create Ada' }],
      tools: [stripe],
    });
    const events = documentEvents(await res.text());
    expect(upstream.requests[0]!.tools!.map((t) => t.function.name)).toEqual(['listCustomers', 'createCustomer']);
    const sent = arrived.find((a) => a.path === '/v1/customers' && a.method === 'POST')!;
    expect(sent.authorization).toBe('Bearer sk_test_1234567890abcdef');
    expect(sent.type).toContain('application/x-www-form-urlencoded');
    expect(new URLSearchParams(sent.body).get('email')).toBe('ada@example.com');
    expect(events.find((e) => e.type === 'tool_result')).toMatchObject({
      tool_name: 'createCustomer',
      result: { status: 200, body: { id: 'cus_1' } },
    });
    expect(events.at(-1)).toMatchObject({ type: 'end', finish_reason: 'stop' });
    cleanup();
  });

  it('refuses an OpenAPI document with an external $ref, naming the tool', async () => {
    const { app, cleanup } = await execTestApp(upstream, { adapters: createExecDeps().adapters });
    const schema = {
      openapi: '3.0.0',
      info: { title: 'x', version: '1' },
      paths: { '/a': { get: { responses: { 200: { $ref: 'https://evil.example/r.json' } } } } },
    };
    const res = await post(app, '/round', {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
      tools: [{ type: 'openapi', schema, base_url: 'https://api.example.com' }],
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatch(/^tools\.0: schema: external \$ref/);
    cleanup();
  });
});

describe('websearch in a round', () => {
  it('uses the provider WEBSEARCH_PROVIDER names (SearXNG here) and makes each call a clear tool error when none is configured', async () => {
    const adapters = createExecDeps({ env: { WEBSEARCH_PROVIDER: 'searxng', SEARXNG_URL: apiUrl } }).adapters;
    const { app, cleanup } = await execTestApp(upstream, { adapters });
    upstream.script((body) =>
      lastTool(body) ? { text: 'Found it.' } : { calls: [{ name: 'web_search', arguments: { query: 'hono' } }] },
    );
    const body = await (
      await post(app, '/round', {
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hono?' }],
        tools: [{ type: 'websearch' }],
      })
    ).json();
    expect(body.messages[1]).toMatchObject({ role: 'tool_response' });
    expect(JSON.parse(body.messages[1].content)).toEqual({
      results: [{ title: 'Hono', url: 'https://hono.dev', snippet: 'Fast web framework' }],
    });
    cleanup();

    const none = await execTestApp(upstream, { adapters: createExecDeps().adapters });
    upstream.script((body) =>
      lastTool(body) ? { text: 'No search here.' } : { calls: [{ name: 'web_search', arguments: { query: 'x' } }] },
    );
    const res = await post(none.app, '/round/stream', {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
      tools: [{ type: 'websearch' }],
    });
    const events = documentEvents(await res.text());
    expect(events.find((e) => e.type === 'error')).toMatchObject({
      error: {
        code: 'TOOL_ERROR',
        message: expect.stringMatching(/no web search provider is configured.*WEBSEARCH_PROVIDER/),
      },
    });
    expect(events.at(-1)).toMatchObject({ type: 'end', message: { content: 'No search here.' } });
    none.cleanup();
  });
});

describe('image_generation in a round', () => {
  it('draws on the runners: the client gets the PNG in tool_result, the model only its size and seed', async () => {
    const { app, cleanup } = await execTestApp(upstream, { adapters: createExecDeps().adapters });
    const seenByModel: string[] = [];
    upstream.script((body) => {
      const last = (body.messages as { role: string; content: string }[]).at(-1)!;
      if (last.role !== 'tool')
        return {
          calls: [{ name: 'generate_image', arguments: { prompt: 'a red house', width: 64, height: 128, seed: 4 } }],
        };
      seenByModel.push(last.content);
      return { text: 'Here is your house.' };
    });
    const res = await post(app, '/round/stream', {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Draw a red house' }],
      tools: [{ type: 'image_generation' }],
    });
    const events = documentEvents(await res.text());
    const result = events.find((e) => e.type === 'tool_result') as { result: Record<string, unknown> };
    expect(result.result).toMatchObject({
      mime_type: 'image/png',
      model: 'sdxl-turbo',
      seed: 4,
      width: 64,
      height: 128,
    });
    const png = Buffer.from(result.result.image as string, 'base64');
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(seenByModel).toEqual([
      'Generated a 64×128 PNG image with sdxl-turbo (seed 4); the user receives it with this result.',
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'end', message: { content: 'Here is your house.' } });

    upstream.script((body) =>
      lastTool(body)
        ? { text: 'Sorry.' }
        : { calls: [{ name: 'generate_image', arguments: { prompt: 'x', width: 512, height: 64 } }] },
    );
    const bad = documentEvents(
      await (
        await post(app, '/round/stream', {
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'x' }],
          tools: [{ type: 'image_generation', model_type: 'tiny-sd' }],
        })
      ).text(),
    );
    // Valid for the tool's schema, too wide for this model: the runner's 400 is the tool's error.
    expect(bad.find((e) => e.type === 'error')).toMatchObject({
      error: { code: 'TOOL_ERROR', message: expect.stringMatching(/width: tiny-sd draws at most 256/) },
    });
    cleanup();
  });
});

describe('rate limits', () => {
  it('answers 429 with Retry-After past the per-key limit, in the /llm-exec error shape', async () => {
    const { app, deps, cleanup } = await execTestApp(upstream, {
      extra: { rateLimit: { limiter: new MemoryRateLimiter(), perKey: 2, perProject: 100 } },
    });
    const { key } = await deps.apiKeys.create('limited');
    const list = () => app.request('/llm-exec/threads', { headers: { 'x-api-key': key } });
    expect((await list()).status).toBe(200);
    expect((await list()).status).toBe(200);
    const limited = await list();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = await limited.json();
    expect(body.statusCode).toBe(429);
    expect(body.error).toMatch(/rate limit/i);
    cleanup();
  });
});
