import { mulberry32 } from '../../../shared/mulberry32.ts';

/**
 * The Euler samplers of diffusers (`EulerDiscreteScheduler`, `EulerAncestralDiscreteScheduler`) for
 * epsilon-predicting Stable Diffusion UNets, on Float32Arrays: the noise levels (sigmas) of the training
 * schedule, the timesteps a run visits, the input scaling and the update of one step.
 */

/** A scheduler configuration as diffusers' `scheduler_config.json` gives it (the fields used here). */
export interface SchedulerConfig {
  num_train_timesteps?: number;
  beta_start?: number;
  beta_end?: number;
  beta_schedule?: 'scaled_linear' | 'linear';
  /** How the run's timesteps are spread over the training ones. */
  timestep_spacing?: 'leading' | 'trailing' | 'linspace';
  steps_offset?: number;
  /** What the UNet predicts: the noise (SD 1.x, SDXL, the turbos) or v (SD 2.x at 768²). */
  prediction_type?: 'epsilon' | 'v_prediction';
}

/** The timesteps and noise levels of one run of `steps` steps; `sigmas` has one more entry (0, the end). */
export interface Schedule {
  timesteps: number[];
  sigmas: number[];
  /** The standard deviation of the starting noise. */
  initNoiseSigma: number;
}

/** Stable Diffusion 1.x / 2.x and SDXL's training schedule (their `scheduler_config.json`). */
export const SD_SCHEDULER: Required<SchedulerConfig> = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  timestep_spacing: 'leading',
  steps_offset: 1,
  prediction_type: 'epsilon',
};

/** σ(t) = √((1 − ᾱ_t) / ᾱ_t) for every training timestep t. */
export function trainingSigmas(config: SchedulerConfig = {}): Float64Array {
  const { num_train_timesteps: n, beta_start, beta_end, beta_schedule } = { ...SD_SCHEDULER, ...config };
  const sigmas = new Float64Array(n);
  let alphaCumprod = 1;
  for (let t = 0; t < n; t++) {
    const f = n === 1 ? 0 : t / (n - 1);
    const beta =
      beta_schedule === 'scaled_linear'
        ? (Math.sqrt(beta_start) + f * (Math.sqrt(beta_end) - Math.sqrt(beta_start))) ** 2
        : beta_start + f * (beta_end - beta_start);
    alphaCumprod *= 1 - beta;
    sigmas[t] = Math.sqrt((1 - alphaCumprod) / alphaCumprod);
  }
  return sigmas;
}

/** The timesteps of a run of `steps`, highest first, spread as diffusers' `timestep_spacing` says. */
export function runTimesteps(steps: number, config: SchedulerConfig = {}): number[] {
  const { num_train_timesteps: n, timestep_spacing, steps_offset } = { ...SD_SCHEDULER, ...config };
  if (!Number.isInteger(steps) || steps < 1 || steps > n) throw new RangeError(`steps must be 1–${n}`);
  const out: number[] = [];
  if (timestep_spacing === 'leading') {
    const ratio = Math.floor(n / steps);
    for (let i = steps - 1; i >= 0; i--) out.push(Math.round(i * ratio) + steps_offset);
  } else if (timestep_spacing === 'trailing') {
    const ratio = n / steps;
    for (let i = 0; i < steps; i++) out.push(Math.round(n - i * ratio) - 1);
  } else {
    for (let i = steps - 1; i >= 0; i--) out.push(steps === 1 ? n - 1 : (i * (n - 1)) / (steps - 1));
  }
  return out;
}

/** The run's schedule: σ at each timestep (linear interpolation of the training sigmas), then 0. */
export function eulerSchedule(steps: number, config: SchedulerConfig = {}): Schedule {
  const trained = trainingSigmas(config);
  const timesteps = runTimesteps(steps, config);
  const at = (t: number) => {
    const low = Math.max(0, Math.min(trained.length - 1, Math.floor(t)));
    const high = Math.min(trained.length - 1, low + 1);
    const f = t - low;
    return trained[low]! * (1 - f) + trained[high]! * f;
  };
  const sigmas = [...timesteps.map(at), 0];
  const spacing = { ...SD_SCHEDULER, ...config }.timestep_spacing;
  const max = Math.max(...sigmas);
  // diffusers: the noise is σ_max for linspace and trailing spacings, √(σ_max² + 1) for leading.
  return { timesteps, sigmas, initNoiseSigma: spacing === 'leading' ? Math.sqrt(max * max + 1) : max };
}

/** The UNet's input at noise level σ: the latents divided by √(σ² + 1) (a new array). */
export function scaleModelInput(latents: Float32Array, sigma: number): Float32Array {
  const k = 1 / Math.sqrt(sigma * sigma + 1);
  const out = new Float32Array(latents.length);
  // Plain loops, here and below: TypedArray#map with a callback is ~10× slower on V8.
  for (let i = 0; i < latents.length; i++) out[i] = latents[i]! * k;
  return out;
}

/**
 * A v-predicting UNet's output turned, in place, into the noise an epsilon-predicting one would have given for the
 * same latents `x` at σ: diffusers' x₀ = v · (−σ/√(σ² + 1)) + x/(σ² + 1), then ε = (x − x₀)/σ.
 */
export function vToEpsilon(v: Float32Array, x: Float32Array, sigma: number): Float32Array {
  const a = -sigma / Math.sqrt(sigma * sigma + 1);
  const b = 1 / (sigma * sigma + 1);
  for (let i = 0; i < v.length; i++) v[i] = (x[i]! - (v[i]! * a + x[i]! * b)) / sigma;
  return v;
}

/** One Euler step, in place: `latents += ε · (σ_next − σ)` (epsilon prediction, no churn). */
export function eulerStep(latents: Float32Array, epsilon: Float32Array, sigma: number, sigmaNext: number): void {
  const dt = sigmaNext - sigma;
  for (let i = 0; i < latents.length; i++) latents[i] = latents[i]! + epsilon[i]! * dt;
}

/**
 * One Euler ancestral step, in place: down to σ_down along ε, then fresh noise of σ_up (`noise`: standard normal
 * values, one per latent; σ_up² = σ_next² (σ² − σ_next²) / σ², σ_down² = σ_next² − σ_up²).
 */
export function eulerAncestralStep(
  latents: Float32Array,
  epsilon: Float32Array,
  sigma: number,
  sigmaNext: number,
  noise: Float32Array,
): void {
  const up = Math.sqrt((sigmaNext * sigmaNext * (sigma * sigma - sigmaNext * sigmaNext)) / (sigma * sigma));
  const down = Math.sqrt(Math.max(0, sigmaNext * sigmaNext - up * up));
  const dt = down - sigma;
  for (let i = 0; i < latents.length; i++) latents[i] = latents[i]! + epsilon[i]! * dt + noise[i]! * up;
}

/** Seeded standard normal numbers, one at a time or a whole array at once (the same sequence either way). */
export interface NormalSource {
  (): number;
  /** Fills `out` with the next `out.length` numbers of the sequence. */
  fill(out: Float32Array): Float32Array;
}

/**
 * A seeded standard normal generator (mulberry32 uniform, Box–Muller, both values of each pair used): the same
 * seed, the same latents, on every machine (no native RNG involved).
 */
export function seededNormal(seed: number): NormalSource {
  const uniform = mulberry32(seed);
  let spare = 0;
  let hasSpare = false;
  const next = () => {
    if (hasSpare) {
      hasSpare = false;
      return spare;
    }
    const r = Math.sqrt(-2 * Math.log(Math.max(uniform(), 1e-12)));
    const angle = 2 * Math.PI * uniform();
    spare = r * Math.sin(angle);
    hasSpare = true;
    return r * Math.cos(angle);
  };
  return Object.assign(next, {
    fill(out: Float32Array): Float32Array {
      for (let i = 0; i < out.length; i++) out[i] = next();
      return out;
    },
  });
}
