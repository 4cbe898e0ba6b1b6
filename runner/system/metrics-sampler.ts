import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { availableParallelism, freemem, totalmem } from 'node:os';
import { cpu, cpuCurrentSpeed, currentLoad, mem } from 'systeminformation';
import type { GpuSample, SystemSample } from '../../shared/schemas/system-metrics.ts';

const GB = 1024 ** 3;
const MAX_OUTPUT = 1 << 20;
const NVIDIA_SMI_ARGS = [
  '--query-gpu=index,name,utilization.gpu,memory.used,memory.total,temperature.gpu',
  '--format=csv,noheader,nounits',
];

export interface MetricsSamplerOptions {
  /** The GPU query command; default `nvidia-smi` (looked up on `env.PATH`). */
  nvidiaSmi?: string;
  /** Environment of the GPU query (its PATH finds the command); default `process.env` at each query. */
  env?: NodeJS.ProcessEnv;
  /** How long the GPU query may take before it is killed and the sample has no GPUs; default 2 s. */
  gpuTimeoutMs?: number;
  /** How long GPUs are reported absent (`[]`, no query) after a query failed: no command, timeout, error; default 60 s. */
  gpuRetryMs?: number;
  /** Where the kernel tells CPU frequencies when the usual sources read 0 (VMs); default `/proc/cpuinfo`. */
  cpuinfoPath?: string;
}

interface StaticCpu {
  maxMHz: number;
  cores: number;
}

/**
 * Readings of this machine in the document's system-metrics shape: CPU load,
 * frequencies and logical cores, memory, and NVIDIA GPUs through
 * `nvidia-smi` (run asynchronously; never systeminformation's `graphics()`,
 * which blocks the event loop). What does not change (core count, maximum
 * frequency) is read once; concurrent samples share one GPU query.
 */
export class MetricsSampler {
  readonly #opts: Required<Omit<MetricsSamplerOptions, 'env'>> & Pick<MetricsSamplerOptions, 'env'>;
  #static: Promise<StaticCpu> | undefined;
  #gpuQuery: Promise<GpuSample[]> | undefined;
  #gpuQuietUntil = 0;

  constructor(options: MetricsSamplerOptions = {}) {
    this.#opts = {
      nvidiaSmi: 'nvidia-smi',
      gpuTimeoutMs: 2_000,
      gpuRetryMs: 60_000,
      cpuinfoPath: '/proc/cpuinfo',
      ...options,
    };
  }

  /** One reading; never rejects (a part that cannot be read reads 0, or no GPUs). */
  async sample(): Promise<SystemSample> {
    const [fixed, load, currentMHz, memory, gpu] = await Promise.all([
      this.#staticCpu(),
      currentLoad().then(
        (l) => l.currentLoad,
        () => 0,
      ),
      this.#currentMHz(),
      mem().then(
        (m) => (m.total > 0 ? m : osMemory()),
        () => osMemory(),
      ),
      this.#gpus(),
    ]);
    const used = memory.total - memory.available;
    return {
      cpu: {
        percent: round(clamp(load, 0, 100), 1),
        frequency_current: round(currentMHz, 1),
        frequency_max: round(Math.max(fixed.maxMHz, currentMHz), 1),
        cores: fixed.cores,
      },
      memory: {
        total: round(memory.total / GB, 2),
        available: round(memory.available / GB, 2),
        used: round(used / GB, 2),
        percent: round(memory.total > 0 ? clamp((used / memory.total) * 100, 0, 100) : 0, 1),
      },
      gpu,
    };
  }

  #staticCpu(): Promise<StaticCpu> {
    this.#static ??= cpu().then(
      (c) => ({ maxMHz: (c.speedMax || c.speed || 0) * 1000, cores: c.cores || availableParallelism() }),
      () => ({ maxMHz: 0, cores: availableParallelism() }),
    );
    return this.#static;
  }

  /** The average current frequency; systeminformation's reads 0 in many VMs, the kernel's cpuinfo may still tell. */
  async #currentMHz(): Promise<number> {
    const ghz = await cpuCurrentSpeed().then(
      (s) => s.avg,
      () => 0,
    );
    if (ghz > 0) return ghz * 1000;
    const text = await readFile(this.#opts.cpuinfoPath, 'utf8').catch(() => '');
    const mhz = [...text.matchAll(/^cpu MHz\s*:\s*([\d.]+)/gm)].map((m) => Number(m[1])).filter((n) => n > 0);
    return mhz.length ? mhz.reduce((a, b) => a + b, 0) / mhz.length : 0;
  }

  #gpus(): Promise<GpuSample[]> {
    if (Date.now() < this.#gpuQuietUntil) return Promise.resolve([]);
    this.#gpuQuery ??= this.#queryGpus().finally(() => {
      this.#gpuQuery = undefined;
    });
    return this.#gpuQuery;
  }

  /** Runs `nvidia-smi` (in its own process group, killed whole on timeout); any failure is `[]` and a quiet period. */
  #queryGpus(): Promise<GpuSample[]> {
    return new Promise((resolve) => {
      const child = spawn(this.#opts.nvidiaSmi, NVIDIA_SMI_ARGS, {
        env: this.#opts.env ?? process.env,
        stdio: ['ignore', 'pipe', 'ignore'],
        detached: true,
        windowsHide: true,
      });
      let stdout = '';
      let settled = false;
      const settle = (gpus: GpuSample[] | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!gpus) this.#gpuQuietUntil = Date.now() + this.#opts.gpuRetryMs;
        resolve(gpus ?? []);
      };
      const timer = setTimeout(() => {
        killGroup(child);
        settle(undefined);
      }, this.#opts.gpuTimeoutMs);
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        stdout += chunk;
        if (stdout.length > MAX_OUTPUT) killGroup(child);
      });
      child.once('error', () => settle(undefined));
      child.once('close', (code) => settle(code === 0 ? parseNvidiaSmi(stdout) : undefined));
    });
  }
}

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/** Parses `nvidia-smi --query-gpu=index,name,utilization.gpu,memory.used,memory.total,temperature.gpu --format=csv,noheader,nounits`; `[N/A]` reads 0. */
export function parseNvidiaSmi(csv: string): GpuSample[] {
  const gpus: GpuSample[] = [];
  for (const line of csv.split('\n')) {
    const fields = line.split(',').map((f) => f.trim());
    if (fields.length < 6) continue;
    const [load, used, total, temperature] = fields.slice(-4).map(num);
    const id = Number.parseInt(fields[0]!, 10);
    gpus.push({
      id: Number.isInteger(id) && id >= 0 ? id : gpus.length,
      name: fields.slice(1, -4).join(', '),
      load: load!,
      memory_used: used!,
      memory_total: total!,
      temperature: temperature!,
    });
  }
  return gpus;
}

function osMemory(): { total: number; available: number } {
  return { total: totalmem(), available: freemem() };
}

function num(field: string): number {
  const n = Number(field);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

function clamp(n: number, min: number, max: number): number {
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : min;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
