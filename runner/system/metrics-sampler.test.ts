import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SystemSample } from '../../shared/schemas/system-metrics.ts';
import { MetricsSampler, parseNvidiaSmi } from './metrics-sampler.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A folder holding an executable `nvidia-smi` shell script with `body`. */
function fakeNvidiaSmi(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgerunner-smi-'));
  dirs.push(dir);
  const file = join(dir, 'nvidia-smi');
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return dir;
}

/** The environment with `dir` first on PATH. */
function withPathFirst(dir: string): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${dir}${delimiter}${process.env.PATH ?? ''}` };
}

describe('MetricsSampler', () => {
  it('reads this machine in the document’s shape, with sane ranges', async () => {
    const sampler = new MetricsSampler();
    const first = await sampler.sample();
    const sample = await sampler.sample();
    for (const s of [first, sample]) expect(SystemSample.parse(s)).toEqual(s);
    expect(Object.keys(sample).sort()).toEqual(['cpu', 'gpu', 'memory']);
    expect(Object.keys(sample.cpu).sort()).toEqual(['cores', 'frequency_current', 'frequency_max', 'percent']);
    expect(Object.keys(sample.memory).sort()).toEqual(['available', 'percent', 'total', 'used']);
    expect(sample.cpu.cores).toBeGreaterThanOrEqual(1);
    expect(sample.cpu.frequency_max).toBeGreaterThanOrEqual(sample.cpu.frequency_current);
    expect(sample.memory.total).toBeGreaterThan(0);
    expect(sample.memory.available).toBeLessThanOrEqual(sample.memory.total);
    expect(sample.memory.used + sample.memory.available).toBeCloseTo(sample.memory.total, 1);
    expect(sample.memory.percent).toBeCloseTo((sample.memory.used / sample.memory.total) * 100, 0);
    expect(Array.isArray(sample.gpu)).toBe(true);
  });

  it('parses the GPUs nvidia-smi lists (first on PATH)', async () => {
    const dir = fakeNvidiaSmi(
      [
        'case "$*" in *--query-gpu=index,name,utilization.gpu,memory.used,memory.total,temperature.gpu*) ;; *) exit 9 ;; esac',
        'echo "0, NVIDIA H200, 37, 1024, 143771, 41"',
        'echo "1, NVIDIA GeForce RTX 4090, 5, 512.5, 24564, [N/A]"',
      ].join('\n'),
    );
    const sample = await new MetricsSampler({ env: withPathFirst(dir) }).sample();
    expect(sample.gpu).toEqual([
      { id: 0, name: 'NVIDIA H200', load: 37, memory_used: 1024, memory_total: 143771, temperature: 41 },
      { id: 1, name: 'NVIDIA GeForce RTX 4090', load: 5, memory_used: 512.5, memory_total: 24564, temperature: 0 },
    ]);
    expect(SystemSample.parse(sample)).toEqual(sample);
  });

  it('reports no GPU when nvidia-smi is not on PATH, and does not look again for a while', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'edgerunner-nopath-'));
    dirs.push(empty);
    const env = { ...process.env, PATH: empty };
    const sampler = new MetricsSampler({ env });
    expect((await sampler.sample()).gpu).toEqual([]);
    // A GPU appearing now is not seen before the quiet period ends.
    env.PATH = fakeNvidiaSmi('echo "0, Late GPU, 1, 2, 3, 4"');
    expect((await sampler.sample()).gpu).toEqual([]);
    const eager = new MetricsSampler({ env, gpuRetryMs: 0 });
    expect((await eager.sample()).gpu).toMatchObject([{ id: 0, name: 'Late GPU' }]);
  });

  it('gives up on an nvidia-smi that hangs: the sample still comes, without GPUs', { timeout: 10_000 }, async () => {
    const dir = fakeNvidiaSmi('sleep 5\necho "0, Slow GPU, 1, 2, 3, 4"');
    const sample = await new MetricsSampler({ env: withPathFirst(dir) }).sample();
    expect(sample.gpu).toEqual([]);
    expect(sample.memory.total).toBeGreaterThan(0);
  });

  it('reports a failing nvidia-smi (no driver) as no GPU', async () => {
    const dir = fakeNvidiaSmi(
      'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver."\nexit 9',
    );
    expect((await new MetricsSampler({ env: withPathFirst(dir) }).sample()).gpu).toEqual([]);
  });
});

describe('parseNvidiaSmi', () => {
  it('keeps commas inside a name and skips blank or short lines', () => {
    expect(parseNvidiaSmi('\n2, Tesla, T4 (rev b), 0, 0, 15360, 30\n\nnot a gpu\n')).toEqual([
      { id: 2, name: 'Tesla, T4 (rev b)', load: 0, memory_used: 0, memory_total: 15360, temperature: 30 },
    ]);
  });
});
