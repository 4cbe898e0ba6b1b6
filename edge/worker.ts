import type { ExecutionContext } from 'hono';
import { createDb, type D1LikeDatabase } from '../drizzle/db.ts';
import { parseCorsOrigins } from '../shared/cors-origins.ts';
import { createLogger, isLogLevel } from '../shared/log.ts';
import { parseRunnerCredentials } from '../shared/runner-credentials.ts';
import { createRunnerSigner, type RunnerKey } from '../shared/runner-token.ts';
import { createApp, type App } from './app.ts';
import { createExecDeps } from './exec/exec-deps.ts';
import { upgradeWorkersWebSocket } from './workers-websocket.ts';
import { workersDocsAssets, workersMonitorAssets, type AssetsBinding } from './monitor/workers-assets.ts';
import { parseAllowlist } from './net/allowlist.ts';
import { searchProviderFromEnv } from './exec/tools/websearch.ts';
import {
  bindingRateLimiter,
  MemoryRateLimiter,
  rateLimitConfig,
  type RateLimitBinding,
} from './middleware/rate-limit.ts';
import { ApiKeyStore } from './auth/api-keys.ts';
import { tokenConfigWarnings, TokenVerifier } from './auth/tokens.ts';
import { ProjectHostedModels } from './providers/hosted-models.ts';
import { ProjectProviderKeys } from './providers/project-keys.ts';
import { ProviderInference } from './providers/provider-inference.ts';
import { createProviderRegistry } from './providers/provider-registry.ts';
import { RunnerPool } from './runners/pool.ts';
import { RemoteInference } from './runners/remote-inference.ts';
import { fetchTransport } from './runners/transport.ts';
import { SessionStore, TURN_LEASE_MS } from './sessions/session-store.ts';
import { parseDuration } from '../shared/duration.ts';

/** Bindings and variables of the Worker (wrangler.toml, `.dev.vars`, secrets). */
export interface WorkerEnv {
  DB?: D1LikeDatabase;
  DATABASE_URL?: string;
  DATABASE_AUTH_TOKEN?: string;
  RUNNER_URLS?: string;
  RUNNER_SECRET?: string;
  RUNNER_SIGNING_KEY?: string;
  RUNNER_TOKEN?: string;
  /** Per-runner registration secrets, `id:secret` comma list; a listed id may not register with RUNNER_TOKEN. */
  RUNNER_CREDENTIALS?: string;
  JWT_SECRET?: string;
  JWKS_URL?: string;
  JWT_ISSUER?: string;
  JWT_AUDIENCE?: string;
  ENTITY_SECRET?: string;
  MAX_BODY_BYTES?: string;
  /** Origins browsers may call from while the Worker runs without auth (comma list). */
  CORS_ORIGINS?: string;
  OPENAI_API_KEY?: string;
  OPENAI_BASE_URL?: string;
  ANTHROPIC_API_KEY?: string;
  ANTHROPIC_BASE_URL?: string;
  GROQ_API_KEY?: string;
  /** The content of a `providers.json` (other OpenAI-compatible hosts). */
  PROVIDERS_JSON?: string;
  /** Providers whose any model (`id/<model>`) callers may use on the server's key (comma list, or `*`). */
  PROVIDER_PASSTHROUGH?: string;
  LOG_LEVEL?: string;
  /** Idle time after which a session is removed (`24h` by default); the cron trigger sweeps them. */
  SESSION_TTL?: string;
  /** Hosts, addresses or CIDRs the agent API's outbound tools may reach although private (comma list). */
  SSRF_ALLOWLIST?: string;
  WEBSEARCH_PROVIDER?: string;
  SEARXNG_URL?: string;
  BRAVE_API_KEY?: string;
  BRAVE_BASE_URL?: string;
  TAVILY_API_KEY?: string;
  TAVILY_BASE_URL?: string;
  /** Where `youtube_stream` sends InnerTube requests instead of https://www.youtube.com (a mirror, a recording). */
  YOUTUBE_ORIGIN?: string;
  /** The platform's rate-limit bindings for /llm-exec (wrangler.toml `[[ratelimits]]`). */
  RATE_LIMIT_KEY?: RateLimitBinding;
  RATE_LIMIT_PROJECT?: RateLimitBinding;
  /** Requests per minute (0: off); the bindings' own limits apply on Workers, these name them in the 429. */
  RATE_LIMIT_PER_KEY?: string;
  RATE_LIMIT_PER_PROJECT?: string;
  /** Static assets (wrangler.toml [assets]): Plotly for /monitor. */
  ASSETS?: AssetsBinding;
}

/** The configuration problems that keep the Worker from serving; empty when none. */
export function workerConfigProblems(env: WorkerEnv): string[] {
  const problems: string[] = [];
  if (!env.DB && !env.DATABASE_URL)
    problems.push('bind a D1 database as DB or set DATABASE_URL (libsql:// or https://)');
  if (!env.RUNNER_SECRET && !env.RUNNER_SIGNING_KEY)
    problems.push('set RUNNER_SECRET (or RUNNER_SIGNING_KEY) to sign calls to runners');
  if (env.MAX_BODY_BYTES && !(Number(env.MAX_BODY_BYTES) > 0))
    problems.push('MAX_BODY_BYTES must be a positive integer');
  problems.push(...parseCorsOrigins(env.CORS_ORIGINS).problems);
  problems.push(...parseRunnerCredentials(env.RUNNER_CREDENTIALS).problems);
  for (const check of [
    () => parseAllowlist(env.SSRF_ALLOWLIST),
    () => rateLimitConfig(env as unknown as Record<string, unknown>),
    () => searchProviderFromEnv(env as unknown as Record<string, unknown>),
  ]) {
    try {
      check();
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  try {
    sessionTtl(env);
  } catch (err) {
    problems.push(`SESSION_TTL: ${(err as Error).message}`);
  }
  return problems;
}

/**
 * Builds the app from the Worker's bindings; Workers isolates keep short
 * caches since they share the database. Throws on a bad `PROVIDERS_JSON`.
 */
export function createWorkerApp(env: WorkerEnv): App {
  const db = workerDb(env);
  const key: RunnerKey = env.RUNNER_SECRET
    ? { secret: env.RUNNER_SECRET }
    : { jwk: JSON.parse(env.RUNNER_SIGNING_KEY!) };
  const logger = createLogger(env.LOG_LEVEL && isLogLevel(env.LOG_LEVEL) ? env.LOG_LEVEL : 'info');
  const pool = new RunnerPool({
    urls: (env.RUNNER_URLS ?? '')
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean),
    db,
    sign: createRunnerSigner(key),
    transport: fetchTransport,
    logger,
  });
  const tokenConfig = {
    jwtSecret: env.JWT_SECRET,
    jwksUrl: env.JWKS_URL,
    jwtIssuer: env.JWT_ISSUER,
    jwtAudience: env.JWT_AUDIENCE,
    entitySecret: env.ENTITY_SECRET,
  };
  for (const warning of tokenConfigWarnings(tokenConfig)) logger.warn(warning);
  return createApp({
    db,
    inference: new ProviderInference(
      new RemoteInference(pool),
      createProviderRegistry(env, { providersFile: env.PROVIDERS_JSON }),
      new ProjectProviderKeys(db),
      new ProjectHostedModels(db),
    ),
    pool,
    runnerToken: env.RUNNER_TOKEN,
    runnerCredentials: parseRunnerCredentials(env.RUNNER_CREDENTIALS).credentials,
    apiKeys: new ApiKeyStore(db),
    tokens: new TokenVerifier(db, tokenConfig),
    // Isolates share D1: a turn also takes a lease there, so another isolate's turn on the session gets the 409.
    sessions: new SessionStore(db, { cacheTtlMs: 1_000, ttlMs: sessionTtl(env), turnLeaseMs: TURN_LEASE_MS }),
    anonymous: 'loopback-when-no-keys',
    logger,
    maxBodyBytes: env.MAX_BODY_BYTES ? Number(env.MAX_BODY_BYTES) : undefined,
    corsOrigins: parseCorsOrigins(env.CORS_ORIGINS).origins,
    // On Workers the platform's fetch cannot reach private networks; the guard checks URLs and redirects.
    exec: createExecDeps({
      allowlist: parseAllowlist(env.SSRF_ALLOWLIST),
      env: env as unknown as Record<string, unknown>,
    }),
    upgradeWebSocket: upgradeWorkersWebSocket,
    monitorAssets: env.ASSETS ? workersMonitorAssets(env.ASSETS) : undefined,
    docsAssets: env.ASSETS ? workersDocsAssets(env.ASSETS) : undefined,
    rateLimit: {
      // Without the bindings (another host of the Worker), a per-isolate limiter: best effort.
      limiter:
        env.RATE_LIMIT_KEY || env.RATE_LIMIT_PROJECT
          ? bindingRateLimiter({ bindings: { key: env.RATE_LIMIT_KEY, project: env.RATE_LIMIT_PROJECT } })
          : new MemoryRateLimiter(),
      ...rateLimitConfig(env as unknown as Record<string, unknown>),
    },
  });
}

function workerDb(env: WorkerEnv) {
  return createDb(env.DATABASE_URL ? { url: env.DATABASE_URL, authToken: env.DATABASE_AUTH_TOKEN } : { d1: env.DB! });
}

function sessionTtl(env: WorkerEnv): number {
  const ttl = parseDuration(env.SESSION_TTL ?? '24h');
  return ttl < 0 ? Number.MAX_SAFE_INTEGER : ttl;
}

function build(env: WorkerEnv): { app: App } | { problems: string[] } {
  try {
    return { app: createWorkerApp(env) };
  } catch (err) {
    return { problems: [(err as Error).message] };
  }
}

/** Per isolate and env: the app, or why the configuration keeps it from serving (checked once). */
const apps = new WeakMap<object, { app: App } | { problems: string[] }>();

export default {
  fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Response | Promise<Response> {
    let built = apps.get(env);
    if (!built) {
      const problems = workerConfigProblems(env);
      built = problems.length ? { problems } : build(env);
      apps.set(env, built);
    }
    if ('problems' in built) {
      const message = `Server misconfigured: ${built.problems.join('; ')}`;
      return Response.json(
        { error: { message, type: 'server_error', code: 'misconfigured', param: null } },
        { status: 500 },
      );
    }
    return built.app.fetch(request, env as unknown as Record<string, unknown>, ctx);
  },
  /** The cron trigger (wrangler.toml): removes sessions idle for longer than SESSION_TTL. */
  scheduled(_controller: unknown, env: WorkerEnv, ctx: ExecutionContext): void {
    if (workerConfigProblems(env).length) return;
    ctx.waitUntil(new SessionStore(workerDb(env), { ttlMs: sessionTtl(env) }).sweep());
  },
};
