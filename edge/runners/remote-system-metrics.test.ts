import { describe, expect, it } from 'vitest';
import { LocalInference } from '../../runner/local-inference.ts';
import type { MetricsSampler } from '../../runner/system/metrics-sampler.ts';
import { createRunnerSigner } from '../../shared/runner-token.ts';
import type { SystemSample } from '../../shared/schemas/system-metrics.ts';
import { inProcessRunner, inProcessTransport, TEST_RUNNER_KEY } from '../../test/helpers/in-process-runner.ts';
import { tinyEngine, TINY_CATALOG } from '../../test/helpers/test-app.ts';
import { createProviderRegistry } from '../providers/provider-registry.ts';
import { ProviderInference } from '../providers/provider-inference.ts';
import { RunnerPool } from './pool.ts';
import { RemoteInference } from './remote-inference.ts';

const sign = createRunnerSigner(TEST_RUNNER_KEY);

function reading(cores: number): SystemSample {
  return {
    cpu: { percent: 50, frequency_current: 2400, frequency_max: 3600, cores },
    memory: { total: 32, available: 24, used: 8, percent: 25 },
    gpu: [{ id: 0, name: 'NVIDIA H200', load: 10, memory_used: 1024, memory_total: 143771, temperature: 40 }],
  };
}

/** A runner over the tiny catalog whose machine reads as `sample` says. */
function runner(id: string, sample: () => Promise<SystemSample>) {
  const sampler: Pick<MetricsSampler, 'sample'> = { sample };
  const inference = new LocalInference({ catalog: TINY_CATALOG, runnerId: id, llm: tinyEngine(), sampler });
  return inProcessRunner(id, TEST_RUNNER_KEY, { inference });
}

describe('system metrics across runners', () => {
  it('the runner rpc answers its reading only to a call signed for it', async () => {
    const { rpc } = runner('r1', async () => reading(4));
    const call = { method: 'GET', path: '/_runner/v1/system-metrics' };
    const get = (token?: string) =>
      rpc.request(call.path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const ok = await get(await sign('r1', call));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual(reading(4));
    expect((await get()).status).toBe(401);
    expect((await get(await sign('r2', call))).status).toBe(401);
    expect((await get(await sign('r1', { method: 'GET', path: '/_runner/v1/status' }))).status).toBe(401);
  });

  it('asks every live runner in parallel and leaves out those that fail', async () => {
    const runners = [
      runner('good-1', async () => reading(4)),
      runner('broken', async () => {
        throw new Error('sensors unreadable');
      }),
      runner('good-2', async () => reading(8)),
      runner('garbled', async () => ({ cpu: 'hot' }) as unknown as SystemSample),
    ];
    const pool = new RunnerPool({
      urls: [...runners.map((r) => r.url), 'http://gone.runner.test'],
      sign,
      transport: inProcessTransport(runners),
    });
    const remote = new RemoteInference(pool);
    const got = await remote.systemMetrics();
    expect(got.map((r) => [r.runner, r.sample.cpu.cores]).sort()).toEqual([
      ['good-1', 4],
      ['good-2', 8],
    ]);
    expect(got[0]!.sample).toEqual(reading(got[0]!.sample.cpu.cores));

    const wrapped = new ProviderInference(remote, createProviderRegistry({}));
    expect((await wrapped.systemMetrics()).length).toBe(2);
  });

  it('answers an empty list when no runner is up', async () => {
    const pool = new RunnerPool({ urls: ['http://gone.runner.test'], sign, transport: inProcessTransport([]) });
    expect(await new RemoteInference(pool).systemMetrics()).toEqual([]);
  });

  it('embedded: one reading, runner `embedded`', async () => {
    const inference = new LocalInference({
      catalog: TINY_CATALOG,
      runnerId: 'embedded',
      llm: tinyEngine(),
      sampler: { sample: async () => reading(2) },
    });
    expect(await inference.systemMetrics()).toEqual([{ runner: 'embedded', sample: reading(2) }]);
  });
});
