import { Hono, type MiddlewareHandler } from 'hono';
import { requestId } from 'hono/request-id';
import { z } from 'zod';
import { AppError } from '../shared/errors.ts';
import { timingSafeEqual } from '../shared/ids.ts';
import { notFound, onError, toAppError } from '../shared/http-errors.ts';
import type { Inference } from '../shared/inference.ts';
import type { Logger } from '../shared/log.ts';
import { RunnerChatBody } from '../shared/schemas/chat.ts';
import { RunnerCompleteBody } from '../shared/schemas/completions.ts';
import { RunnerEmbedBody } from '../shared/schemas/embeddings.ts';
import { AnalyzeRequest, GenerateRequest, OcrRequest, RefineRequest } from '../shared/schemas/images.ts';
import { SpeechRequest } from '../shared/schemas/speech.ts';
import { RUNNER_CHALLENGE } from '../shared/runner-proof.ts';
import type { RunnerCall } from '../shared/runner-token.ts';
import { sseResponse } from '../shared/sse-response.ts';
import { validate } from '../shared/validate.ts';

export interface RunnerRpcDeps {
  runnerId: string;
  inference: Inference;
  /** Verifies an edge-signed token addressed to this runner for this one call (method, path with query). */
  verify: (token: string, call: RunnerCall) => Promise<boolean>;
  /** Answers an edge's registration challenge (`runnerProof` with this runner's credential); absent: no proof given. */
  prove?: (challenge: string) => Promise<string>;
  logger: Logger;
  /** Prometheus `GET /metrics`; absent: not served. */
  metrics?: RunnerMetrics;
}

/**
 * The runner's `GET /metrics`: scraped with `Authorization: Bearer <token>`
 * (`METRICS_TOKEN`), since a scraper cannot mint the edge's one-use signed
 * call tokens. `record` (`recordRequests(...)`) times every rpc request.
 */
export interface RunnerMetrics {
  token: string;
  render: () => Promise<string>;
  record?: MiddlewareHandler;
}

/** How a failure inside a runner stream travels to the edge. */
export function streamError(err: unknown) {
  const e = toAppError(err);
  return { type: 'error', error: { message: e.message, status: e.status, code: e.code } };
}

const Session = z.object({ sessionId: z.string().min(1) });
const Health = z.object({ challenge: z.string().regex(RUNNER_CHALLENGE).optional() });

/**
 * The runner's rpc (`/_runner/v1/...`) over its local engines. Every call
 * must carry an edge-signed JWT for this runner and this call (`aud` =
 * runner id, `htm`/`htu` = method and path, a `jti` used once, `exp` ≤
 * 60 s); `/_runner/health` alone is open, and tells only the runner id
 * (and, given `?challenge=`, the proof that this runner holds its
 * registration credential); `GET /metrics`, when configured, takes its own
 * bearer token (`RunnerMetrics`).
 */
export function createRunnerRpc(deps: RunnerRpcDeps) {
  const { inference } = deps;
  const app = new Hono();
  if (deps.metrics?.record) app.use(deps.metrics.record);
  app.use(requestId());
  app.get('/_runner/health', validate('query', Health), async (c) => {
    const { challenge } = c.req.valid('query');
    const proof = challenge && deps.prove ? await deps.prove(challenge) : undefined;
    return c.json({ status: 'ok', id: deps.runnerId, ...(proof && { proof }) });
  });
  const metrics = deps.metrics;
  if (metrics) {
    app.get('/metrics', async (c) => {
      const token = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
      if (!token || !timingSafeEqual(token, metrics.token)) {
        throw new AppError(401, 'Missing or wrong metrics token (METRICS_TOKEN)', { code: 'invalid_metrics_token' });
      }
      return c.body(await metrics.render(), 200, {
        'content-type': 'text/plain; version=0.0.4; charset=utf-8',
        'cache-control': 'no-store',
      });
    });
  }
  app.use('/_runner/v1/*', async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const token = /^Bearer\s+(.+)$/i.exec(header)?.[1];
    const url = new URL(c.req.url);
    if (!token || !(await deps.verify(token, { method: c.req.method, path: url.pathname + url.search }))) {
      throw new AppError(401, 'Missing, expired or misaddressed runner token', { code: 'invalid_runner_token' });
    }
    await next();
  });
  app.get('/_runner/v1/status', async (c) => {
    const [status] = await inference.status({ signal: c.req.raw.signal });
    return c.json(status);
  });
  app.get('/_runner/v1/models', async (c) =>
    c.json({ models: await inference.listModels({ signal: c.req.raw.signal }) }),
  );
  app.post('/_runner/v1/models/:name/load', async (c) => {
    const events = await inference.loadModel(c.req.param('name'), { signal: c.req.raw.signal });
    return sseResponse(c, events, { onError: streamError, logger: deps.logger });
  });
  app.post('/_runner/v1/models/:name/unload', async (c) =>
    c.json({ unloaded: await inference.unloadModel(c.req.param('name')) }),
  );
  app.post('/_runner/v1/chat', validate('json', RunnerChatBody), async (c) => {
    const { sessionId, request, download } = c.req.valid('json');
    const events = await inference.chat(request, { sessionId, download, signal: c.req.raw.signal });
    return sseResponse(c, events, { onError: streamError, logger: deps.logger });
  });
  app.post('/_runner/v1/complete', validate('json', RunnerCompleteBody), async (c) => {
    const { sessionId, request, download } = c.req.valid('json');
    const events = await inference.complete(request, { sessionId, download, signal: c.req.raw.signal });
    return sseResponse(c, events, { onError: streamError, logger: deps.logger });
  });
  app.post('/_runner/v1/embed', validate('json', RunnerEmbedBody), async (c) => {
    const { model, inputs, download } = c.req.valid('json');
    return c.json(await inference.embed(model, inputs, { download, signal: c.req.raw.signal }));
  });
  app.post(
    '/_runner/v1/images/ocr',
    validate('json', OcrRequest.extend({ download: z.boolean().optional() })),
    async (c) => {
      const { download, ...request } = c.req.valid('json');
      return c.json(await inference.ocr(request, { download, signal: c.req.raw.signal }));
    },
  );
  const analyzeBody = AnalyzeRequest.extend({ download: z.boolean().optional() });
  app.post('/_runner/v1/images/analyze', validate('json', analyzeBody), async (c) => {
    const { download, ...request } = c.req.valid('json');
    return c.json(await inference.analyzeImage(request, { download, signal: c.req.raw.signal }));
  });
  const streaming = { onError: streamError, logger: deps.logger };
  const generateBody = GenerateRequest.extend({ download: z.boolean().optional() });
  app.post('/_runner/v1/images/generate', validate('json', generateBody), async (c) => {
    const { download, ...request } = c.req.valid('json');
    return sseResponse(c, await inference.generateImage(request, { download, signal: c.req.raw.signal }), streaming);
  });
  const refineBody = RefineRequest.safeExtend({ download: z.boolean().optional() });
  app.post('/_runner/v1/images/refine', validate('json', refineBody), async (c) => {
    const { download, ...request } = c.req.valid('json');
    return sseResponse(c, await inference.refineImage(request, { download, signal: c.req.raw.signal }), streaming);
  });
  app.post('/_runner/v1/audio/speak', validate('json', SpeechRequest), async (c) =>
    sseResponse(c, await inference.speak(c.req.valid('json'), { signal: c.req.raw.signal }), streaming),
  );
  app.get('/_runner/v1/audio/models', async (c) =>
    c.json(await inference.listSpeechModels({ signal: c.req.raw.signal })),
  );
  app.get('/_runner/v1/system-metrics', async (c) => {
    const [reading] = await inference.systemMetrics({ signal: c.req.raw.signal });
    if (!reading)
      throw new AppError(503, 'This runner could not read its system metrics', { code: 'metrics_unavailable' });
    return c.json(reading.sample);
  });
  app.post('/_runner/v1/stop', validate('json', Session), async (c) =>
    c.json({ stopped: await inference.stop(c.req.valid('json').sessionId) }),
  );
  app.notFound(notFound);
  app.onError(onError(deps.logger));
  return app;
}
