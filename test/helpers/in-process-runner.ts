import { TransportError, type Transport } from '../../edge/runners/transport.ts';
import { createLogger } from '../../shared/log.ts';
import { createRunnerVerifier, type RunnerKey } from '../../shared/runner-token.ts';
import { createRunnerRpc } from '../../runner/rpc.ts';
import { localTestInference } from './test-app.ts';

export const TEST_RUNNER_KEY: RunnerKey = { secret: 'in-process-runner-secret' };

/** The real runner rpc over local engines, answered in process (no socket): `http://<id>.runner.test/...`. */
export function inProcessRunner(id: string, key: RunnerKey = TEST_RUNNER_KEY) {
  const inference = localTestInference(id);
  const rpc = createRunnerRpc({
    runnerId: id,
    inference,
    verify: createRunnerVerifier(key, id),
    logger: createLogger('silent'),
  });
  return { url: `http://${id}.runner.test`, rpc, inference };
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
