import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppDeps, AppEnv } from '../../edge/env.ts';
import { recordRequests, type MetricsRecorder } from '../../edge/metrics/http-metrics.ts';
import { notFound, onError } from '../../edge/middleware/errors.ts';
import { metricsRoutes } from '../../edge/routes/metrics.ts';
import { RunnerPool } from '../../edge/runners/pool.ts';
import type { Inference } from '../../shared/inference.ts';
import { createLogger } from '../../shared/log.ts';
import { createRunnerSigner, createRunnerVerifier } from '../../shared/runner-token.ts';
import type { ChatEvent } from '../../shared/schemas/chat.ts';
import { parseSSE } from '../../shared/sse.ts';
import { inProcessRunner, inProcessTransport, TEST_RUNNER_KEY } from '../../test/helpers/in-process-runner.ts';
import { localTestInference, testApp } from '../../test/helpers/test-app.ts';
import { createRunnerRpc } from '../rpc.ts';
import { MeteredInference } from './metered-inference.ts';
import { PrometheusMetrics, poolHealth } from './prometheus.ts';

/** The app as `createApp` will be wired with `deps.metrics`: the recorder first, `/metrics`, then every route. */
function withMetrics(app: Hono<AppEnv>, deps: AppDeps, prom: PrometheusMetrics) {
  const outer = new Hono<AppEnv>();
  outer.use(recordRequests(prom));
  outer.route('/', metricsRoutes({ ...deps, render: () => prom.render() }));
  outer.route('/', app);
  outer.notFound(notFound);
  outer.onError(onError(deps.logger));
  return outer;
}

/** `name{labels} value` lines of one metric, labels as an object. */
function samples(text: string, name: string): Array<{ labels: Record<string, string>; value: number }> {
  const out = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

const value = (text: string, name: string, labels: Record<string, string> = {}) =>
  samples(text, name)
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

describe('Prometheus /metrics on the embedded app (tiny model)', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let app: Hono<AppEnv>;
  let prom: PrometheusMetrics;
  beforeAll(async () => {
    const local = localTestInference();
    prom = new PrometheusMetrics({ status: () => local.status() });
    t = await testApp({ inference: new MeteredInference(local, prom), keyCacheTtlMs: 0 });
    app = withMetrics(t.app, t.deps, prom);
  });
  afterAll(() => t.cleanup());

  it('counts requests by route pattern and status, generations by model, and reads models and sequences', async () => {
    expect((await app.request('/health')).status).toBe(200);
    expect((await app.request('/v1/models/no-such-model-123')).status).toBe(404);
    expect((await app.request('/nothing/here/42')).status).toBe(404);
    expect((await app.request('/v1/chat/completions', json({ model: 'tiny-chat', messages: 'x' }))).status).toBe(400);
    const ask = { model: 'tiny-chat', temperature: 0, max_tokens: 8, messages: [{ role: 'user', content: 'Hi' }] };
    const plain = await app.request('/v1/chat/completions', json(ask));
    expect(plain.status).toBe(200);
    expect((await plain.json()).usage.completion_tokens).toBeGreaterThan(0);
    const streamed = await app.request('/v1/chat/completions', json({ ...ask, stream: true }));
    expect(streamed.status).toBe(200);
    for await (const _ of parseSSE(streamed.body!));

    const res = await app.request('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.headers.get('content-type')).toBe(prom.contentType);
    const text = await res.text();

    const requests = 'edgerunner_http_requests_total';
    expect(value(text, requests, { route: '/health', method: 'GET', status: '200' })).toBe(1);
    expect(value(text, requests, { route: '/v1/models/:id{.+}', status: '404' })).toBe(1);
    expect(value(text, requests, { route: 'unmatched', status: '404' })).toBe(1);
    expect(value(text, requests, { route: '/v1/chat/completions', method: 'POST', status: '400' })).toBe(1);
    expect(value(text, requests, { route: '/v1/chat/completions', status: '200' })).toBe(2);
    expect(value(text, 'edgerunner_http_request_duration_seconds_count', { route: '/v1/chat/completions' })).toBe(3);
    // Raw paths (ids) never become labels.
    expect(text).not.toContain('no-such-model-123');
    expect(text).not.toContain('/nothing/here');

    expect(value(text, 'edgerunner_tokens_generated_total', { model: 'tiny-chat' })).toBeGreaterThan(0);
    expect(value(text, 'edgerunner_time_to_first_token_seconds_count', { model: 'tiny-chat' })).toBe(2);
    expect(value(text, 'edgerunner_models_loaded', { runner: 'embedded' })).toBeGreaterThanOrEqual(1);
    expect(value(text, 'edgerunner_model_loaded', { runner: 'embedded', model: 'tiny-chat' })).toBe(1);
    expect(samples(text, 'edgerunner_sequences_busy')).toEqual([
      { labels: { runner: 'embedded', model: 'tiny-chat' }, value: 0 },
    ]);
    expect(value(text, 'edgerunner_sequences_queued', { model: 'tiny-chat' })).toBe(0);
    expect(value(text, 'edgerunner_sequences_capacity', { runner: 'embedded' })).toBe(2);
    expect(samples(text, 'process_cpu_user_seconds_total')).toHaveLength(1);

    // The exposition format: HELP and TYPE before each family, every sample line parses.
    for (const [name, type] of [
      ['edgerunner_http_requests_total', 'counter'],
      ['edgerunner_http_request_duration_seconds', 'histogram'],
      ['edgerunner_tokens_generated_total', 'counter'],
      ['edgerunner_time_to_first_token_seconds', 'histogram'],
      ['edgerunner_models_loaded', 'gauge'],
      ['edgerunner_model_loaded', 'gauge'],
      ['edgerunner_sequences_busy', 'gauge'],
      ['edgerunner_sequences_queued', 'gauge'],
    ]) {
      expect(text).toContain(`# TYPE ${name} ${type}\n`);
      expect(text).toContain(`# HELP ${name} `);
    }
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
      expect(line).toMatch(/^[a-zA-Z_:][\w:]*(\{(\w+="(?:[^"\\]|\\.)*",?)*\})? (-?[\d.e+-]+|NaN|[+-]Inf)$/);
    }
  });

  it('needs the admin scope once keys exist; anonymous local use is admin', async () => {
    expect((await app.request('/metrics')).status).toBe(200);
    const admin = (await t.deps.apiKeys.create('ops', { scope: 'admin' })).key;
    const inference = (await t.deps.apiKeys.create('ops')).key;
    expect((await app.request('/metrics')).status).toBe(401);
    const refused = await app.request('/metrics', { headers: { 'x-api-key': inference } });
    expect(refused.status).toBe(403);
    expect((await refused.json()).error.code).toBe('insufficient_scope');
    expect((await app.request('/metrics', { headers: { authorization: `Bearer ${admin}` } })).status).toBe(200);
    const text = await prom.render();
    expect(value(text, 'edgerunner_http_requests_total', { route: '/metrics', status: '401' })).toBe(1);
    expect(value(text, 'edgerunner_http_requests_total', { route: '/metrics', status: '403' })).toBe(1);
  });
});

describe('recordRequests', () => {
  function recorded() {
    const calls: Array<[string, string, number]> = [];
    const recorder: MetricsRecorder = {
      observeRequest: (route, method, status) => calls.push([route, method, status]),
      observeGeneration: () => {},
    };
    return { calls, recorder };
  }

  it('records errors that the app renders, and those of middleware before a route, under the route', async () => {
    const { calls, recorder } = recorded();
    const app = new Hono();
    app.use(recordRequests(recorder));
    app.use('/items/*', async (c, next) => {
      if (c.req.header('x-deny')) return c.text('no', 401);
      await next();
    });
    app.get('/items/:id', (c) => {
      if (c.req.param('id') === 'boom') throw new Error('boom');
      return c.text('ok');
    });
    app.onError((_, c) => c.text('failed', 500));
    await app.request('/items/7');
    await app.request('/items/boom');
    await app.request('/items/8', { headers: { 'x-deny': '1' } });
    await app.request('/items/8', { method: 'BREW' });
    expect(calls).toEqual([
      ['/items/:id', 'GET', 200],
      ['/items/:id', 'GET', 500],
      ['/items/:id', 'GET', 401],
      ['unmatched', 'OTHER', 404],
    ]);
  });
});

describe('MeteredInference', () => {
  it('measures the time to the first text or tool call and adds the answer’s completion tokens', async () => {
    let clock = 0;
    const events: ChatEvent[] = [
      { type: 'text', text: '' },
      { type: 'text', text: 'Hi' },
      { type: 'done', finishReason: 'stop', usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 } },
    ];
    const inner = {
      chat: async () =>
        (async function* () {
          for (const e of events) {
            clock += 250;
            yield e;
          }
        })(),
    } as unknown as Inference;
    const seen: unknown[] = [];
    const metered = new MeteredInference(inner, { observeGeneration: (o) => seen.push(o) }, () => clock);
    const out = [];
    for await (const e of await metered.chat({ model: 'm', messages: [] }, { sessionId: 's' })) out.push(e);
    expect(out).toEqual(events);
    expect(seen).toEqual([{ model: 'm', tokens: 5, ttftSeconds: 0.5 }]);
  });
});

describe('runner /metrics and runner health', () => {
  it('serves the runner’s metrics with METRICS_TOKEN only, timing its rpc calls', async () => {
    const local = localTestInference('r1');
    const prom = new PrometheusMetrics({ status: () => local.status(), defaultMetrics: false });
    const rpc = createRunnerRpc({
      runnerId: 'r1',
      inference: new MeteredInference(local, prom),
      verify: createRunnerVerifier(TEST_RUNNER_KEY, 'r1'),
      logger: createLogger('silent'),
      metrics: { token: 'scrape-token-123', render: () => prom.render(), record: recordRequests(prom) },
    });
    const sign = createRunnerSigner(TEST_RUNNER_KEY);
    const token = await sign('r1', { method: 'GET', path: '/_runner/v1/status' });
    expect((await rpc.request('/_runner/v1/status', { headers: { authorization: `Bearer ${token}` } })).status).toBe(
      200,
    );
    expect((await rpc.request('/metrics')).status).toBe(401);
    expect((await rpc.request('/metrics', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const res = await rpc.request('/metrics', { headers: { authorization: 'Bearer scrape-token-123' } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(value(text, 'edgerunner_http_requests_total', { route: '/_runner/v1/status', status: '200' })).toBe(1);
    expect(value(text, 'edgerunner_http_requests_total', { route: '/metrics', status: '401' })).toBe(2);
    expect(value(text, 'edgerunner_models_loaded', { runner: 'r1' })).toBe(0);
    expect(text).not.toContain('process_cpu');
    // Without a token configured, there is no /metrics.
    const bare = inProcessRunner('r2').rpc;
    expect((await bare.request('/metrics', { headers: { authorization: 'Bearer x' } })).status).toBe(404);
  });

  it('shows each runner of the edge’s pool as up or down', async () => {
    const runners = [inProcessRunner('r1')];
    const pool = new RunnerPool({
      urls: [runners[0]!.url, 'http://gone.runner.test'],
      sign: createRunnerSigner(TEST_RUNNER_KEY),
      transport: inProcessTransport(runners),
    });
    const prom = new PrometheusMetrics({ runners: poolHealth(pool), defaultMetrics: false });
    const text = await prom.render();
    expect(samples(text, 'edgerunner_runner_up')).toEqual([
      { labels: { runner: 'r1', url: 'http://r1.runner.test' }, value: 1 },
      { labels: { runner: 'http://gone.runner.test', url: 'http://gone.runner.test' }, value: 0 },
    ]);
  });
});
