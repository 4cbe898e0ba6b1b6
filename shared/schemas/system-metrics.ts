import { z } from 'zod';

/** One GPU as `nvidia-smi` reports it: load in %, memory in MB, temperature in °C. */
export const GpuSample = z.object({
  id: z.number().int().nonnegative(),
  name: z.string(),
  load: z.number().nonnegative(),
  memory_used: z.number().nonnegative(),
  memory_total: z.number().nonnegative(),
  temperature: z.number(),
});
export type GpuSample = z.infer<typeof GpuSample>;

/**
 * One reading of a machine, the local-AI document's system-metrics shape:
 * frequencies in MHz (0 when the machine does not tell), memory in GB,
 * `gpu` empty without a GPU.
 */
export const SystemSample = z.object({
  cpu: z.object({
    percent: z.number().min(0).max(100),
    frequency_current: z.number().nonnegative(),
    frequency_max: z.number().nonnegative(),
    cores: z.number().int().positive(),
  }),
  memory: z.object({
    total: z.number().positive(),
    available: z.number().nonnegative(),
    used: z.number().nonnegative(),
    percent: z.number().min(0).max(100),
  }),
  gpu: z.array(GpuSample),
});
export type SystemSample = z.infer<typeof SystemSample>;

/** One runner's reading (embedded mode: runner `embedded`). */
export const RunnerSample = z.object({ runner: z.string().min(1), sample: SystemSample });
export type RunnerSample = z.infer<typeof RunnerSample>;

/** What `/ws/system-metrics` sends: a reading, the runner it comes from, and when (ms since the epoch). */
export const SystemMetricsMessage = SystemSample.extend({ runner: z.string().min(1), timestamp: z.number().int() });
export type SystemMetricsMessage = z.infer<typeof SystemMetricsMessage>;
