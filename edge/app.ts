import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { requestId } from 'hono/request-id';
import { AppError } from '../shared/errors.ts';
import { DEFAULT_MAX_BODY_BYTES } from '../shared/limits.ts';
import { aiTools } from './ai/ai-tools.ts';
import { LocalAccess } from './auth/local-access.ts';
import { createExecDeps } from './exec/exec-deps.ts';
import type { AppDeps, AppEnv } from './env.ts';
import { authenticate } from './middleware/auth.ts';
import { corsAll } from './middleware/cors.ts';
import { notFound, onError } from './middleware/errors.ts';
import { recordRequests } from './metrics/http-metrics.ts';
import { perSubscriberFeed } from './metrics/metrics-feed.ts';
import { rateLimit } from './middleware/rate-limit.ts';
import { session } from './middleware/session.ts';
import { aiProcessRoutes } from './routes/ai-process.ts';
import { openAIAudioRoutes } from './openai/audio-speech.ts';
import { openAIImageRoutes } from './openai/images.ts';
import { imageRoutes } from './routes/images.ts';
import { chatRoutes } from './routes/chat.ts';
import { execAgentRoutes } from './routes/exec-agents.ts';
import { execThreadRoutes } from './routes/exec-threads.ts';
import { execRoundRoutes } from './routes/exec.ts';
import { completionRoutes } from './routes/completions.ts';
import { embeddingRoutes } from './routes/embeddings.ts';
import { healthRoutes } from './routes/health.ts';
import { modelLoadRoutes } from './routes/model-load.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { docsRoutes } from './routes/docs.ts';
import { modelRoutes } from './routes/models.ts';
import { monitorRoutes } from './routes/monitor.ts';
import { openApiRoutes } from './routes/openapi.ts';
import { runnerRoutes } from './routes/runners.ts';
import { sessionRoutes } from './routes/session.ts';
import { stopRoutes } from './routes/stop.ts';
import { systemMetricsRoutes } from './routes/system-metrics.ts';

const BODYLESS = new Set(['GET', 'HEAD', 'OPTIONS']);

export { DEFAULT_MAX_BODY_BYTES };

/** The whole public API, the same on Node and on Workers; every service comes in through `deps`. */
export function createApp(deps: AppDeps) {
  const maxSize = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const app = new Hono<AppEnv>();
  const { metrics } = deps;
  if (metrics) app.use(recordRequests(metrics.recorder));

  app.use(requestId());
  app.use(corsAll(new LocalAccess(deps, { corsOrigins: deps.corsOrigins })));
  const limit = bodyLimit({
    maxSize,
    onError: () => {
      throw new AppError(413, `Request body exceeds ${maxSize} bytes`, { code: 'payload_too_large' });
    },
  });
  // GET/HEAD/OPTIONS carry no body; not touching it keeps Node's lightweight request un-materialised.
  app.use((c, next) => (BODYLESS.has(c.req.method) ? next() : limit(c, next)));

  app.route('/', healthRoutes(deps));
  app.route('/', openApiRoutes());
  if (deps.docsAssets) app.route('/', docsRoutes(deps.docsAssets));
  if (metrics) app.route('/', metricsRoutes({ ...deps, render: () => metrics.render() }));
  if (deps.pool)
    app.route('/_edge', runnerRoutes(deps.pool, { shared: deps.runnerToken, perRunner: deps.runnerCredentials }));

  for (const prefix of ['/v1/*', '/llm-exec/*']) {
    app.use(prefix, authenticate(deps));
    if (prefix === '/llm-exec/*' && deps.rateLimit) app.use(prefix, rateLimit(deps.rateLimit));
    app.use(prefix, session(deps.sessions));
  }
  app.route('/v1', modelRoutes(deps));
  app.route('/v1', modelLoadRoutes(deps));
  app.route('/v1', sessionRoutes(deps));
  app.route('/v1', chatRoutes(deps));
  app.route('/v1', completionRoutes(deps));
  app.route('/v1', stopRoutes(deps));
  app.route('/v1', embeddingRoutes(deps));
  const exec = deps.exec ?? createExecDeps();
  const tools = aiTools({ ...deps, exec });
  app.route('/v1', aiProcessRoutes(tools));
  app.route('/v1', imageRoutes(tools, deps));
  app.route('/v1', openAIImageRoutes(deps));
  app.route('/v1', openAIAudioRoutes(deps));
  app.route('/llm-exec', execRoundRoutes({ ...deps, exec }));
  app.route('/llm-exec', execThreadRoutes(deps));
  app.route('/llm-exec', execAgentRoutes(deps));

  if (deps.upgradeWebSocket) {
    // Browsers cannot set headers on a WebSocket: they offer their key as a subprotocol (see websocket-protocol-key.ts).
    app.use('/ws/*', authenticate(deps));
    const feed = deps.metricsFeed ?? perSubscriberFeed({ inference: deps.inference, logger: deps.logger });
    app.route('/', systemMetricsRoutes({ feed, upgradeWebSocket: deps.upgradeWebSocket }));
    // The page holds no data: no auth (like /health; the local-only origin guard still applies). The socket is authenticated.
    if (deps.monitorAssets) app.route('/', monitorRoutes(deps.monitorAssets));
  }

  app.notFound(notFound);
  app.onError(onError(deps.logger));
  return app;
}

export type App = ReturnType<typeof createApp>;
