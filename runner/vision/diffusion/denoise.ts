import {
  eulerAncestralStep,
  eulerSchedule,
  eulerStep,
  scaleModelInput,
  seededNormal,
  vToEpsilon,
  type SchedulerConfig,
} from './euler-schedulers.ts';

export interface DenoiseOptions {
  /** The latents' shape without the batch: `[4, height / 8, width / 8]`. */
  shape: readonly [number, number, number];
  steps: number;
  scheduler: SchedulerConfig;
  /** Euler ancestral (fresh noise each step) rather than plain Euler. */
  ancestral: boolean;
  seed: number;
  /** img2img: the image's latents and how much of the schedule to run on them (0–1]. */
  init?: { latents: Float32Array; strength: number };
  /** The model's noise prediction for latents already scaled to the step's σ, at `timestep`. */
  predict: (input: Float32Array, timestep: number) => Promise<Float32Array>;
  signal?: AbortSignal;
  /** After each step: the fraction of the run's steps done. */
  onStep?: (fraction: number) => void;
}

/**
 * The steps an img2img run takes of `steps`: diffusers' `int(steps × strength)` (at most `steps`); 0 means the
 * request cannot change the image.
 */
export function refineSteps(steps: number, strength: number): number {
  return Math.min(steps, Math.floor(steps * strength + 1e-9));
}

/**
 * The sampling loop of a diffusion model (epsilon- or v-predicting, as its scheduler config says): seeded Gaussian latents at the schedule's first noise
 * level (or, img2img, the image's latents noised to the level where `strength` of the schedule remains), then per
 * step the model's prediction and one Euler (ancestral) update. Cancels between steps when `signal` aborts.
 */
export async function denoise(options: DenoiseOptions): Promise<Float32Array> {
  const { shape, steps, init, signal } = options;
  const normal = seededNormal(options.seed);
  const schedule = eulerSchedule(steps, options.scheduler);
  const size = shape[0] * shape[1] * shape[2];
  let first = 0;
  let latents: Float32Array;
  if (init) {
    if (init.latents.length !== size) throw new Error(`img2img latents of ${init.latents.length} values, not ${size}`);
    first = steps - refineSteps(steps, init.strength);
    if (first >= steps) throw new RangeError('strength × steps must be at least 1');
    const sigma = schedule.sigmas[first]!;
    latents = normal.fill(new Float32Array(size));
    for (let i = 0; i < size; i++) latents[i] = init.latents[i]! + latents[i]! * sigma;
  } else {
    latents = normal.fill(new Float32Array(size));
    for (let i = 0; i < size; i++) latents[i] = latents[i]! * schedule.initNoiseSigma;
  }
  const noise = options.ancestral ? new Float32Array(size) : undefined;
  const vPrediction = options.scheduler.prediction_type === 'v_prediction';
  for (let i = first; i < steps; i++) {
    signal?.throwIfAborted();
    const sigma = schedule.sigmas[i]!;
    const next = schedule.sigmas[i + 1]!;
    const predicted = await options.predict(scaleModelInput(latents, sigma), schedule.timesteps[i]!);
    const epsilon = vPrediction ? vToEpsilon(predicted, latents, sigma) : predicted;
    if (noise) eulerAncestralStep(latents, epsilon, sigma, next, normal.fill(noise));
    else eulerStep(latents, epsilon, sigma, next);
    options.onStep?.((i - first + 1) / (steps - first));
  }
  signal?.throwIfAborted();
  return latents;
}
