import { z } from 'zod';

/** What a runner reports about itself (rpc `GET /_runner/v1/status` and heartbeats). */
export const RunnerStatus = z.object({
  id: z.string().min(1).max(128),
  loadedModels: z.array(z.string()),
  capacity: z.number().int().nonnegative(),
  busy: z.number().int().nonnegative(),
  /** Per loaded chat model: sequences generating now and callers waiting for one (absent from older runners). */
  models: z
    .array(
      z.object({
        name: z.string(),
        busy: z.number().int().nonnegative(),
        queued: z.number().int().nonnegative(),
      }),
    )
    .optional(),
  /** onnxruntime's execution providers the vision and speech models use, best first (`cuda`, `cpu`). */
  onnxProviders: z.array(z.string().max(32)).max(8).optional(),
});
export type RunnerStatus = z.infer<typeof RunnerStatus>;

/** Body a runner posts to the edge to register itself and stay alive. */
export const RunnerHeartbeat = RunnerStatus.extend({
  url: z.url({ protocol: /^https?$/ }),
});
export type RunnerHeartbeat = z.infer<typeof RunnerHeartbeat>;
