import type { Db } from '../drizzle/db.ts';
import type { Inference } from '../shared/inference.ts';
import type { Logger } from '../shared/log.ts';
import type { ApiKeyStore } from './auth/api-keys.ts';
import type { Scope } from './auth/scopes.ts';
import type { TokenVerifier } from './auth/tokens.ts';
import type { ExecDeps } from './exec/round-services.ts';
import type { MetricsRecorder } from './metrics/http-metrics.ts';
import type { MetricsSource } from './metrics/metrics-feed.ts';
import type { RateLimitOptions } from './middleware/rate-limit.ts';
import type { DocsAssets } from './routes/docs.ts';
import type { MonitorAssets } from './routes/monitor.ts';
import type { UpgradeWebSocketHelper } from './routes/system-metrics.ts';
import type { RunnerPool } from './runners/pool.ts';
import type { SessionRecord, SessionStore } from './sessions/session-store.ts';

/** Who is calling. `id` owns sessions and threads. */
export interface Principal {
  id: string;
  kind: 'anonymous' | 'api-key' | 'user' | 'entity';
  projectId: string | null;
  /** What it may do (see `edge/auth/scopes.ts`); absent: `inference`. Anonymous local use is `admin`. */
  scope?: Scope;
}

/**
 * When requests without credentials are allowed: `when-no-keys` (embedded
 * server bound to loopback), `loopback-when-no-keys` (Workers: only for
 * requests addressed to a loopback host, i.e. `wrangler dev`), or `never`.
 */
export type AnonymousPolicy = 'when-no-keys' | 'loopback-when-no-keys' | 'never';

/** Everything `createApp` is handed; nothing is imported as a singleton. */
export interface AppDeps {
  db: Db;
  inference: Inference;
  apiKeys: ApiKeyStore;
  tokens: TokenVerifier;
  sessions: SessionStore;
  anonymous: AnonymousPolicy;
  logger: Logger;
  /** Runners the edge forwards to; absent in embedded mode. */
  pool?: RunnerPool;
  /** Shared token runners present to register themselves (`RUNNER_TOKEN`); ids listed in `runnerCredentials` may not use it. */
  runnerToken?: string;
  /** Runner id → its own registration secret (`RUNNER_CREDENTIALS`); registration is off when neither is set. */
  runnerCredentials?: ReadonlyMap<string, string>;
  /** Origins browsers may call from while the server runs without auth (`CORS_ORIGINS`); default loopback only. */
  corsOrigins?: string[];
  /** Largest accepted request body; default 25 MB. */
  maxBodyBytes?: number;
  /** The agent API's SSRF-guarded fetch and tool adapters; default `createExecDeps()` (no allow-list). */
  exec?: ExecDeps;
  /** Requests-per-minute limits on `/llm-exec/*` per key and per project; absent: none. */
  rateLimit?: RateLimitOptions;
  /** The runtime's WebSocket upgrade helper; absent: no `/ws/*` routes. */
  upgradeWebSocket?: UpgradeWebSocketHelper;
  /** Where `/ws/system-metrics` readings come from; default one poll loop per connection. */
  metricsFeed?: MetricsSource;
  /** Plotly's bundle for the `/monitor` page (edge code cannot read node_modules); absent: no `/monitor`. */
  monitorAssets?: MonitorAssets;
  /** Swagger UI's files for `/docs`; absent: no `/docs` (`/openapi.json` is always served). */
  docsAssets?: DocsAssets;
  /** Prometheus (Node): `recorder` sees every request; `render` answers GET /metrics (admin). Absent (Workers): no /metrics. */
  metrics?: { recorder: MetricsRecorder; render(): Promise<string> };
}

export interface AppEnv {
  Bindings: Record<string, unknown>;
  Variables: {
    requestId: string;
    principal: Principal;
    session: SessionRecord;
  };
}
