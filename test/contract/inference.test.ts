import { RunnerPool } from '../../edge/runners/pool.ts';
import { RemoteInference } from '../../edge/runners/remote-inference.ts';
import { createRunnerSigner } from '../../shared/runner-token.ts';
import { inProcessRunner, inProcessTransport, TEST_RUNNER_KEY } from '../helpers/in-process-runner.ts';
import { localTestInference } from '../helpers/test-app.ts';
import { inferenceContract } from './inference.contract.ts';

inferenceContract('local engines (embedded)', async () => ({
  inference: localTestInference(),
}));

inferenceContract('remote runners (edge → signed rpc → runner)', async () => {
  const runners = [inProcessRunner('r1'), inProcessRunner('r2')];
  const pool = new RunnerPool({
    urls: runners.map((r) => r.url),
    sign: createRunnerSigner(TEST_RUNNER_KEY),
    transport: inProcessTransport(runners),
  });
  return { inference: new RemoteInference(pool) };
});
