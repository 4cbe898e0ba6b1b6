import { mkdir, readFile } from 'node:fs/promises';
import { ProjectHostedModels } from '../edge/providers/hosted-models.ts';
import { ProjectProviderKeys } from '../edge/providers/project-keys.ts';
import { ProviderInference } from '../edge/providers/provider-inference.ts';
import { createProviderRegistry, type ProviderRegistry } from '../edge/providers/provider-registry.ts';
import { ApiKeyStore } from '../edge/auth/api-keys.ts';
import { tokenConfigWarnings, TokenVerifier } from '../edge/auth/tokens.ts';
import type { AppDeps } from '../edge/env.ts';
import { RunnerPool } from '../edge/runners/pool.ts';
import { RemoteInference } from '../edge/runners/remote-inference.ts';
import { SessionStore } from '../edge/sessions/session-store.ts';
import { createDb, prepareFileDb, type Db } from '../drizzle/db.ts';
import { applyMigrations } from '../drizzle/migrate.ts';
import type { Logger } from '../shared/log.ts';
import { createRunnerSigner } from '../shared/runner-token.ts';
import { nodeHs256 } from './node-hs256.ts';
import { ConfigError, isLoopback, type Config } from './config.ts';
import { sharedModelHost } from './host/shared-host.ts';
import { LlmEngine } from './llm/llm-engine.ts';
import { ClipEngine } from './vision/clip/clip-engine.ts';
import { TtsEngine } from './speech/tts-engine.ts';
import { DiffusionEngine } from './vision/diffusion/diffusion-engine.ts';
import { OcrEngine } from './vision/ocr/ocr-engine.ts';
import { LocalInference } from './local-inference.ts';
import { modelFiles } from './models/model-files.ts';
import { loadCatalog } from './models/catalog.ts';
import { undiciTransport } from './undici-transport.ts';
import { MeteredInference } from './metrics/metered-inference.ts';
import { nodeDocsAssets, nodeMonitorAssets } from './monitor-assets.ts';
import { PrometheusMetrics, poolHealth } from './metrics/prometheus.ts';
import { guardedNodeFetch, resolveHost } from './net/guarded-dispatcher.ts';
import { createExecDeps } from '../edge/exec/exec-deps.ts';
import { createGuardedFetch } from '../edge/net/ssrf.ts';
import { MemoryRateLimiter, rateLimitConfig } from '../edge/middleware/rate-limit.ts';
import { parseAllowlist } from '../edge/net/allowlist.ts';
import { MetricsFeed } from '../edge/metrics/metrics-feed.ts';
import type { UpgradeWebSocketHelper } from '../edge/routes/system-metrics.ts';

/**
 * The agent API's services on Node: the SSRF guard checks each URL and redirect (names resolved first) and
 * its connections check the addresses they reach, so DNS rebinding cannot slip past.
 */
export function nodeExecDeps(env: NodeJS.ProcessEnv = process.env) {
  const allowlist = configured(() => parseAllowlist(env.SSRF_ALLOWLIST));
  const fetch = createGuardedFetch({ allowlist, resolve: resolveHost, fetch: guardedNodeFetch(allowlist) });
  return configured(() => createExecDeps({ fetch, env }));
}

/** Rate limits on /llm-exec from `RATE_LIMIT_PER_KEY` / `RATE_LIMIT_PER_PROJECT`, kept in this process's memory. */
export function nodeRateLimits(env: NodeJS.ProcessEnv = process.env) {
  return { limiter: new MemoryRateLimiter(), ...configured(() => rateLimitConfig(env)) };
}

/** Runs a parser of the edge's settings; its error is a ConfigError (the server exits naming the variable). */
function configured<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/** Opens the database (creating DATA_DIR for a file) and applies migrations. */
export async function openDatabase(config: Pick<Config, 'databaseUrl' | 'databaseAuthToken' | 'dataDir'>): Promise<Db> {
  const file = config.databaseUrl.startsWith('file:');
  if (file) await mkdir(config.dataDir, { recursive: true });
  const db = createDb({ url: config.databaseUrl, authToken: config.databaseAuthToken });
  if (file) await prepareFileDb(db);
  await applyMigrations(db);
  return db;
}

/** The engines of this process, from the configuration. */
export async function localInference(config: Config, runnerId: string): Promise<LocalInference> {
  const catalog = await loadCatalog(config.modelsFile);
  const files = modelFiles({ modelsDir: config.modelsDir, hfEndpoint: config.hfEndpoint, hfToken: config.hfToken });
  const host = sharedModelHost({ models: catalog.models, files, keepAliveMs: config.modelKeepAliveMs });
  const llm = new LlmEngine({
    models: catalog.models,
    files,
    host,
    threads: config.llmThreads,
    parallel: config.llmParallel,
    maxTokens: config.llmMaxTokens,
  });
  const ocr = new OcrEngine({ host, threads: config.llmThreads });
  const clip = new ClipEngine({ host, threads: config.llmThreads });
  const diffusion = new DiffusionEngine({ host, threads: config.llmThreads });
  const tts = new TtsEngine({ modelsDir: config.modelsDir });
  return new LocalInference({ catalog, runnerId, llm, ocr, clip, diffusion, tts });
}

/**
 * Everything `createApp` needs on Node: local engines (embedded) or a
 * runner pool (edge). Refuses a non-loopback bind with no auth configured.
 */
/** Hosted providers from the environment and `providers.json` (optional); a bad file is a ConfigError. */
export async function providerRegistry(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ProviderRegistry> {
  const file = await readFile(config.providersFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read ${config.providersFile}: ${err.message}`);
  });
  try {
    return createProviderRegistry(env, { providersFile: file });
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

export interface ServerDepsOptions {
  /** Node's WebSocket helper (`nodeWebSockets().upgradeWebSocket`); absent: no `/ws/*` routes. */
  upgradeWebSocket?: UpgradeWebSocketHelper;
}

/** `AppDeps` plus what `/ws/system-metrics` needs: one poll loop shared by every connection of this process. */
export type ServerDeps = AppDeps & { upgradeWebSocket?: UpgradeWebSocketHelper; metricsFeed: MetricsFeed };

export async function buildServerDeps(
  config: Config,
  logger: Logger,
  { upgradeWebSocket }: ServerDepsOptions = {},
): Promise<ServerDeps> {
  const db = await openDatabase(config);
  const apiKeys = new ApiKeyStore(db);
  const tokens = new TokenVerifier(db, config.tokens);
  for (const warning of tokenConfigWarnings(config.tokens)) logger.warn(warning);
  const loopback = isLoopback(config.host);
  if (!loopback && !(await apiKeys.hasAnyKey()) && !tokens.acceptsUserTokens && !tokens.acceptsEntityTokens) {
    throw new ConfigError(
      `HOST=${config.host} is not a loopback address and no auth is configured: ` +
        'create a key first (npm run keys -- create --project NAME) or set JWT_SECRET / JWKS_URL / ENTITY_SECRET',
    );
  }
  const common = {
    db,
    apiKeys,
    tokens,
    sessions: new SessionStore(db, { ttlMs: config.sessionTtlMs < 0 ? Number.MAX_SAFE_INTEGER : config.sessionTtlMs }),
    anonymous: loopback ? ('when-no-keys' as const) : ('never' as const),
    logger,
    maxBodyBytes: config.maxBodyBytes,
    corsOrigins: config.corsOrigins,
    exec: nodeExecDeps(),
    rateLimit: nodeRateLimits(),
    monitorAssets: nodeMonitorAssets(),
    docsAssets: nodeDocsAssets(),
  };
  const providers = await providerRegistry(config);
  const projectKeys = new ProjectProviderKeys(db);
  const hostedModels = new ProjectHostedModels(db);
  /** The inference every route uses, metered for Prometheus, with the metrics feed and /metrics over it. */
  const observed = (inner: AppDeps['inference'], runners?: RunnerPool) => {
    const prom = new PrometheusMetrics({
      status: () => inner.status(),
      ...(runners ? { runners: poolHealth(runners) } : {}),
    });
    const inference = new MeteredInference(inner, prom);
    return {
      inference,
      upgradeWebSocket,
      metricsFeed: new MetricsFeed({ inference, logger }),
      metrics: { recorder: prom, render: () => prom.render() },
    };
  };
  if (config.mode === 'embedded') {
    return {
      ...common,
      ...observed(
        new ProviderInference(await localInference(config, 'embedded'), providers, projectKeys, hostedModels),
      ),
    };
  }
  const pool = new RunnerPool({
    urls: config.runnerUrls,
    db,
    sign: createRunnerSigner(config.runnerKey!, { hs256: nodeHs256(config.runnerKey!) }),
    transport: undiciTransport(),
    logger,
  });
  return {
    ...common,
    ...observed(new ProviderInference(new RemoteInference(pool), providers, projectKeys, hostedModels), pool),
    pool,
    runnerToken: config.runnerToken,
    runnerCredentials: config.runnerCredentials,
  };
}
