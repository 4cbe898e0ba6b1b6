import { hostname } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { JWK } from 'jose';
import { isLogLevel, type LogLevel } from '../shared/log.ts';
import { DEFAULT_MAX_BODY_BYTES } from '../shared/limits.ts';
import type { RunnerKey } from '../shared/runner-token.ts';
import type { TokenConfig } from '../shared/token-config.ts';
import { defaultThreads } from './llm/llama-runtime.ts';
import { parseCorsOrigins } from '../shared/cors-origins.ts';
import { parseRunnerCredentials } from '../shared/runner-credentials.ts';
import { parseDuration } from '../shared/duration.ts';

export type Mode = 'embedded' | 'edge' | 'runner';

export interface Config {
  mode: Mode;
  host: string;
  port: number;
  dataDir: string;
  modelsDir: string;
  modelsFile: string;
  /** Other OpenAI-compatible providers (optional file). */
  providersFile: string;
  hfEndpoint: string;
  hfToken?: string;
  databaseUrl: string;
  databaseAuthToken?: string;
  runnerUrls: string[];
  /** Key the edge signs runner calls with (or a runner verifies them with). */
  runnerKey?: RunnerKey;
  runnerId: string;
  edgeUrl?: string;
  runnerToken?: string;
  /** `RUNNER_CREDENTIALS` (edge): runner id → the secret that id alone registers with. */
  runnerCredentials: Map<string, string>;
  /** URL a registering runner advertises; default `http://HOST:PORT`. */
  runnerPublicUrl?: string;
  /** `METRICS_TOKEN` (runner): the bearer token Prometheus scrapes the runner's `GET /metrics` with; unset: no /metrics. */
  metricsToken?: string;
  tokens: TokenConfig;
  /** `CORS_ORIGINS`: origins browsers may call from while the server runs without auth. */
  corsOrigins: string[];
  maxBodyBytes: number;
  logLevel: LogLevel;
  llmThreads: number;
  llmParallel: number;
  /** Most tokens one answer may generate (`LLM_MAX_TOKENS`); undefined: the room the prompt leaves in the context. */
  llmMaxTokens: number | undefined;
  /** `LLM_NATIVE_BUILD`: `auto` builds llama.cpp for this CPU in the background when it can; `off` never does. */
  llmNativeBuild: 'auto' | 'off';
  /** -1: never unload. */
  modelKeepAliveMs: number;
  /** Idle time after which a session is removed (`SESSION_TTL`, default 24 h; -1: never). */
  sessionTtlMs: number;
}

/** Bad configuration: the message says what to fix. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1)$/;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

/** Reads the environment (names from DESIGN.md) and command-line flags; throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined>, argv: string[] = []): Config {
  const problems: string[] = [];
  const str = (name: string) => env[name]?.trim() || undefined;

  const port = Number(str('PORT') ?? '8080');
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    problems.push(`PORT must be an integer 0–65535, got "${env.PORT}"`);

  const url = (name: string, value: string | undefined) => {
    if (value === undefined) return undefined;
    try {
      const u = new URL(value);
      if (!/^https?:$/.test(u.protocol)) throw new Error();
      return value;
    } catch {
      problems.push(`${name} must be an http(s) URL, got "${value}"`);
      return undefined;
    }
  };

  const dataDir = resolve(str('DATA_DIR') ?? './data');
  const modelsDir = resolve(str('MODELS_DIR') ?? join(dataDir, 'models'));
  const hfEndpoint = (url('HF_ENDPOINT', str('HF_ENDPOINT')) ?? 'https://huggingface.co/').replace(/\/?$/, '/');
  const runnerUrls = (str('RUNNER_URLS') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .flatMap((u) => url('RUNNER_URLS', u) ?? []);

  const maxBodyBytes = Number(str('MAX_BODY_BYTES') ?? DEFAULT_MAX_BODY_BYTES);
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes <= 0)
    problems.push(`MAX_BODY_BYTES must be a positive integer, got "${env.MAX_BODY_BYTES}"`);

  const logLevel = str('LOG_LEVEL') ?? 'info';
  if (!isLogLevel(logLevel))
    problems.push(`LOG_LEVEL must be one of debug, info, warn, error, silent; got "${logLevel}"`);

  // An edge forwards to runners: listed in RUNNER_URLS, or registering themselves (`--edge`).
  const mode: Mode = argv.includes('--runner')
    ? 'runner'
    : runnerUrls.length || argv.includes('--edge')
      ? 'edge'
      : 'embedded';

  const runnerKey = readRunnerKey(env, mode, problems);
  if ((mode === 'edge' || mode === 'runner') && !runnerKey) {
    problems.push(
      mode === 'edge'
        ? 'an edge needs RUNNER_SECRET (or RUNNER_SIGNING_KEY) to sign its calls: set the same RUNNER_SECRET on the edge and its runners'
        : "a runner needs RUNNER_SECRET (or RUNNER_VERIFY_KEY) to verify the edge's calls",
    );
  }

  const edgeUrl = url('EDGE_URL', str('EDGE_URL'));
  if (mode === 'runner' && edgeUrl && !str('RUNNER_TOKEN'))
    problems.push(
      "EDGE_URL is set but RUNNER_TOKEN is not: set the edge's RUNNER_TOKEN, or this runner's own secret from the edge's RUNNER_CREDENTIALS",
    );

  const runnerCredentials = parseRunnerCredentials(env.RUNNER_CREDENTIALS);
  problems.push(...runnerCredentials.problems);

  const databaseUrl = str('DATABASE_URL') ?? `file:${join(dataDir, 'edgerunner.db')}`;
  if (!/^(file:|libsql:|https?:|wss?:)/.test(databaseUrl))
    problems.push(`DATABASE_URL must be a file:, libsql:// or http(s):// URL, got "${databaseUrl}"`);

  const jwksUrl = url('JWKS_URL', str('JWKS_URL'));
  if (str('JWT_SECRET') && jwksUrl) problems.push('set JWT_SECRET or JWKS_URL, not both');
  const host = str('HOST') ?? '127.0.0.1';

  const positive = (name: string, fallback: number) => {
    const n = Number(str(name) ?? fallback);
    if (!Number.isInteger(n) || n < 1) problems.push(`${name} must be a positive integer, got "${env[name]}"`);
    return n;
  };
  const llmThreads = positive('LLM_THREADS', defaultThreads());
  const llmParallel = positive('LLM_PARALLEL', 4);
  const llmMaxTokens = str('LLM_MAX_TOKENS') === undefined ? undefined : positive('LLM_MAX_TOKENS', 1);
  const llmNativeBuild = str('LLM_NATIVE_BUILD') ?? 'auto';
  if (llmNativeBuild !== 'auto' && llmNativeBuild !== 'off') {
    problems.push(`LLM_NATIVE_BUILD must be auto or off, got ${llmNativeBuild}`);
  }
  let modelKeepAliveMs = 300_000;
  try {
    modelKeepAliveMs = parseDuration(str('MODEL_KEEP_ALIVE') ?? '5m');
  } catch (err) {
    problems.push(`MODEL_KEEP_ALIVE: ${(err as Error).message}`);
  }
  let sessionTtlMs = 24 * 3_600_000;
  try {
    sessionTtlMs = parseDuration(str('SESSION_TTL') ?? '24h');
  } catch (err) {
    problems.push(`SESSION_TTL: ${(err as Error).message}`);
  }

  const cors = parseCorsOrigins(env.CORS_ORIGINS);
  problems.push(...cors.problems);

  if (problems.length) throw new ConfigError(problems.join('\n'));
  const modelsFile = str('MODELS_FILE') ?? 'models.json';
  const providersFile = str('PROVIDERS_FILE') ?? 'providers.json';
  return {
    mode,
    host,
    port,
    dataDir,
    modelsDir,
    modelsFile: isAbsolute(modelsFile) ? modelsFile : resolve(modelsFile),
    providersFile: resolve(providersFile),
    hfEndpoint,
    hfToken: str('HF_TOKEN'),
    databaseUrl,
    databaseAuthToken: str('DATABASE_AUTH_TOKEN'),
    runnerUrls,
    runnerKey,
    runnerId: str('RUNNER_ID') ?? `${hostname()}-${port}`,
    edgeUrl,
    runnerToken: str('RUNNER_TOKEN'),
    runnerCredentials: runnerCredentials.credentials,
    runnerPublicUrl: url('RUNNER_PUBLIC_URL', str('RUNNER_PUBLIC_URL')),
    metricsToken: str('METRICS_TOKEN'),
    tokens: {
      jwtSecret: str('JWT_SECRET'),
      jwksUrl,
      jwtIssuer: str('JWT_ISSUER'),
      jwtAudience: str('JWT_AUDIENCE'),
      entitySecret: str('ENTITY_SECRET'),
    },
    corsOrigins: cors.origins,
    maxBodyBytes,
    logLevel: logLevel as LogLevel,
    llmThreads,
    llmParallel,
    llmMaxTokens,
    llmNativeBuild: llmNativeBuild === 'off' ? 'off' : 'auto',
    modelKeepAliveMs,
    sessionTtlMs,
  };
}

function readRunnerKey(env: Record<string, string | undefined>, mode: Mode, problems: string[]): RunnerKey | undefined {
  const secret = env.RUNNER_SECRET?.trim();
  if (secret) {
    if (secret.length < 16) problems.push('RUNNER_SECRET must be at least 16 characters');
    return { secret };
  }
  const name = mode === 'runner' ? 'RUNNER_VERIFY_KEY' : 'RUNNER_SIGNING_KEY';
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  try {
    const jwk = JSON.parse(raw) as JWK;
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519') throw new Error();
    return { jwk };
  } catch {
    problems.push(`${name} must be an Ed25519 JWK (JSON with kty "OKP", crv "Ed25519")`);
    return undefined;
  }
}
