import { RunnerPool } from '../../edge/runners/pool.ts';
import { RemoteInference } from '../../edge/runners/remote-inference.ts';
import { TransportError, type Transport } from '../../edge/runners/transport.ts';
import { createLogger } from '../../shared/log.ts';
import { runnerProof } from '../../shared/runner-proof.ts';
import { createRunnerSigner, createRunnerVerifier, type RunnerKey } from '../../shared/runner-token.ts';
import { createRunnerRpc } from '../../runner/rpc.ts';
import type { LocalInference } from '../../runner/local-inference.ts';
import type { DownloadsOptions } from '../../runner/models/downloader.ts';
import type { Catalog } from '../../shared/schemas/catalog.ts';
import { localTestInference } from './test-app.ts';

export const TEST_RUNNER_KEY: RunnerKey = { secret: 'in-process-runner-secret' };

/**
 * The real runner rpc over local engines, answered in process (no socket), at
 * `url` (default `http://<id>.runner.test`); with a `credential` (its
 * `RUNNER_TOKEN`) it proves its identity to a registering edge.
 */
export function inProcessRunner(
  id: string,
  key: RunnerKey = TEST_RUNNER_KEY,
  {
    url = `http://${id}.runner.test`,
    credential,
    inference = localTestInference(id),
  }: { url?: string; credential?: string; inference?: LocalInference } = {},
) {
  const rpc = createRunnerRpc({
    runnerId: id,
    inference,
    verify: createRunnerVerifier(key, id),
    prove: credential ? (challenge) => runnerProof(credential, { challenge, id, url }) : undefined,
    logger: createLogger('silent'),
  });
  return { url, rpc, inference };
}

/** A transport that hands requests for in-process runners to their rpc apps. */
export function inProcessTransport(runners: Array<ReturnType<typeof inProcessRunner>>): Transport {
  return async (url, init) => {
    const runner = runners.find((r) => url.startsWith(r.url));
    if (!runner) throw new TransportError(`connection refused: no runner at ${url}`, false);
    const { stream: _stream, ...request } = init;
    return runner.rpc.fetch(new Request(url, request));
  };
}

/** The edge's remote inference over one in-process runner `id`: the edge → runner topology without sockets. */
export function inProcessRemoteInference(id = 'r1', catalog?: Catalog, files?: DownloadsOptions): RemoteInference {
  const runners = [inProcessRunner(id, TEST_RUNNER_KEY, { inference: localTestInference(id, catalog, files) })];
  const pool = new RunnerPool({
    urls: runners.map((r) => r.url),
    sign: createRunnerSigner(TEST_RUNNER_KEY),
    transport: inProcessTransport(runners),
  });
  return new RemoteInference(pool);
}
