import { createApp } from '../edge/app.ts';
import type { SessionStore } from '../edge/sessions/session-store.ts';
import { createLogger, type Logger } from '../shared/log.ts';
import { runnerProof } from '../shared/runner-proof.ts';
import { createRunnerVerifier } from '../shared/runner-token.ts';
import { nodeHs256 } from './node-hs256.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { runHeartbeat } from './heartbeat.ts';
import { llamaRuntime } from './llm/llama-runtime.ts';
import { buildForThisCpu, nativeBuildSkipReason, onPath } from './llm/native-build.ts';
import { nodeWebSockets } from './node-websocket.ts';
import { createRunnerRpc } from './rpc.ts';
import { MeteredInference } from './metrics/metered-inference.ts';
import { PrometheusMetrics } from './metrics/prometheus.ts';
import { recordRequests } from '../edge/metrics/http-metrics.ts';
import { serveFetch, type Served } from './serve.ts';
import { buildServerDeps, localInference } from './server-deps.ts';

/** `npm start` (embedded, or an edge when RUNNER_URLS is set) and `npm run runner`. */
async function main(): Promise<void> {
  const config = loadConfig(process.env, process.argv.slice(2));
  const logger = createLogger(config.logLevel);
  const stop = new AbortController();
  const served =
    config.mode === 'runner' ? await startRunner(config, logger, stop.signal) : await startServer(config, logger);
  console.log(`listening on ${served.url}`);
  logger.info('started', { mode: config.mode, url: served.url });
  if (config.mode !== 'edge') void buildNativeWhenUseful(config, logger, stop.signal);
  const shutdown = async () => {
    stop.abort();
    await served.close();
    process.exit(0);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

async function startServer(config: Config, logger: Logger): Promise<Served> {
  const websockets = nodeWebSockets();
  const deps = await buildServerDeps(config, logger, { upgradeWebSocket: websockets.upgradeWebSocket });
  const app = createApp(deps);
  websockets.attach(app);
  if (config.sessionTtlMs > 0) sweepSessions(deps.sessions, Math.min(config.sessionTtlMs, 3_600_000), logger);
  return serveFetch(app.fetch, config.host, config.port, { onServer: websockets.inject });
}

/** Starts a background build of llama.cpp for this CPU when it would be faster and can be built (see native-build.ts). */
async function buildNativeWhenUseful(config: Config, logger: Logger, signal: AbortSignal): Promise<void> {
  try {
    const reason = await nativeBuildSkipReason({
      setting: config.llmNativeBuild,
      ci: Boolean(process.env.CI),
      binding: async () => {
        const llama = await llamaRuntime();
        return { buildType: llama.buildType, gpu: llama.gpu };
      },
      has: (command) => onPath(command),
    });
    if (reason) logger.debug('no llama.cpp build for this CPU', { reason });
    else await buildForThisCpu(logger, signal);
  } catch (err) {
    if (!signal.aborted) logger.warn('llama.cpp build not started', { error: (err as Error).message });
  }
}

/** Removes idle sessions now and every `everyMs`; a failed sweep is logged and retried next time. */
function sweepSessions(sessions: SessionStore, everyMs: number, logger: Logger): void {
  const sweep = () =>
    sessions.sweep().then(
      (removed) => removed && logger.info('sessions expired', { removed }),
      (err: unknown) => logger.warn('session sweep failed', { error: (err as Error).message }),
    );
  void sweep();
  setInterval(sweep, everyMs).unref();
}

async function startRunner(config: Config, logger: Logger, signal: AbortSignal): Promise<Served> {
  const local = await localInference(config, config.runnerId);
  // Prometheus on a runner: GET /metrics with METRICS_TOKEN as bearer (Prometheus cannot mint the edge's call tokens).
  const prom = config.metricsToken ? new PrometheusMetrics({ status: () => local.status() }) : undefined;
  const inference = prom ? new MeteredInference(local, prom) : local;
  const { runnerId, runnerToken } = config;
  // Known once listening when the port is picked (PORT=0): the proof names the URL this runner announces.
  let publicUrl = config.runnerPublicUrl;
  const rpc = createRunnerRpc({
    runnerId,
    inference,
    verify: createRunnerVerifier(config.runnerKey!, runnerId, { hs256: nodeHs256(config.runnerKey!) }),
    prove: runnerToken
      ? (challenge) => runnerProof(runnerToken, { challenge, id: runnerId, url: publicUrl ?? '' })
      : undefined,
    logger,
    metrics: prom && {
      token: config.metricsToken!,
      render: () => prom.render(),
      record: recordRequests(prom),
    },
  });
  const served = await serveFetch(rpc.fetch, config.host, config.port);
  publicUrl ??= served.url;
  if (config.edgeUrl && runnerToken) {
    void runHeartbeat({
      edgeUrl: config.edgeUrl,
      runnerToken,
      publicUrl,
      inference,
      logger,
      signal,
    });
  }
  return served;
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(`edgerunner: bad configuration:\n  ${err.message.split('\n').join('\n  ')}`);
    process.exit(2);
  }
  console.error(`edgerunner: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
