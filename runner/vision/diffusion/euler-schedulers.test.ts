import { describe, expect, it } from 'vitest';
import {
  eulerAncestralStep,
  eulerSchedule,
  eulerStep,
  runTimesteps,
  scaleModelInput,
  seededNormal,
  trainingSigmas,
  vToEpsilon,
} from './euler-schedulers.ts';

describe('Euler schedulers (diffusers semantics, Stable Diffusion schedule)', () => {
  it('trains σ from ~0.0292 at t = 0 to ~14.6146 at t = 999 (the values diffusers and ORT’s sd-turbo use)', () => {
    const sigmas = trainingSigmas();
    expect(sigmas).toHaveLength(1000);
    expect(sigmas[0]).toBeCloseTo(0.0292, 3);
    expect(sigmas[999]).toBeCloseTo(14.6146, 2);
    for (let t = 1; t < 1000; t++) expect(sigmas[t]!).toBeGreaterThan(sigmas[t - 1]!);
  });

  it('spreads timesteps as diffusers’ leading, trailing and linspace spacings do', () => {
    expect(runTimesteps(20)).toEqual(Array.from({ length: 20 }, (_, i) => 951 - 50 * i));
    expect(runTimesteps(1, { timestep_spacing: 'trailing' })).toEqual([999]);
    expect(runTimesteps(4, { timestep_spacing: 'trailing' })).toEqual([999, 749, 499, 249]);
    expect(runTimesteps(3, { timestep_spacing: 'linspace' })).toEqual([999, 499.5, 0]);
    expect(() => runTimesteps(0)).toThrow(RangeError);
    expect(() => runTimesteps(1001)).toThrow(RangeError);
  });

  it('builds a run’s sigmas (interpolated, ending at 0) and the starting noise per spacing', () => {
    const turbo = eulerSchedule(1, { timestep_spacing: 'trailing' });
    expect(turbo.timesteps).toEqual([999]);
    expect(turbo.sigmas[0]).toBeCloseTo(14.6146, 2);
    expect(turbo.sigmas[1]).toBe(0);
    expect(turbo.initNoiseSigma).toBeCloseTo(14.6146, 2); // trailing: σ_max
    const sd = eulerSchedule(20);
    const trained = trainingSigmas();
    expect(sd.sigmas).toHaveLength(21);
    expect(sd.sigmas[0]).toBeCloseTo(trained[951]!, 10);
    expect(sd.initNoiseSigma).toBeCloseTo(Math.sqrt(trained[951]! ** 2 + 1), 10); // leading: √(σ_max² + 1)
    const halfway = eulerSchedule(3, { timestep_spacing: 'linspace' }).sigmas[1]!;
    expect(halfway).toBeCloseTo((trained[499]! + trained[500]!) / 2, 10);
  });

  it('scales the model input by 1/√(σ² + 1) and steps along ε by σ_next − σ', () => {
    const latents = new Float32Array([1, -2, 4]);
    expect([...scaleModelInput(latents, Math.sqrt(3))]).toEqual([0.5, -1, 2]);
    expect([...latents]).toEqual([1, -2, 4]); // a new array
    eulerStep(latents, new Float32Array([1, 1, -1]), 2, 0.5);
    expect([...latents]).toEqual([-0.5, -3.5, 5.5]);
  });

  it('ancestral: down along ε to σ_down, plus σ_up of noise; σ_next = 0 is a plain step to 0', () => {
    const sigma = 2;
    const next = 1;
    const up = Math.sqrt((next * next * (sigma * sigma - next * next)) / (sigma * sigma));
    const down = Math.sqrt(next * next - up * up);
    const latents = new Float32Array([1]);
    eulerAncestralStep(latents, new Float32Array([1]), sigma, next, Float32Array.of(1));
    expect(latents[0]).toBeCloseTo(1 + (down - sigma) + up, 6);
    const last = new Float32Array([3]);
    eulerAncestralStep(last, new Float32Array([1]), 2, 0, Float32Array.of(100));
    expect(last[0]).toBeCloseTo(1, 6);
  });

  it('turns a v prediction into the noise: the v of a known x₀ and ε gives that ε back', () => {
    // diffusers: x = x₀ + σε at noise level σ, and v = α ε − s x₀ with α = 1/√(σ² + 1), s = σ/√(σ² + 1) (scaled input).
    const sigma = 2.5;
    const x0 = Float32Array.of(0.3, -1.2, 0.8);
    const eps = Float32Array.of(1, 0.5, -2);
    const x = x0.map((v, i) => v + sigma * eps[i]!);
    const alpha = 1 / Math.sqrt(sigma * sigma + 1);
    const v = x0.map((v0, i) => alpha * eps[i]! - sigma * alpha * v0);
    const back = vToEpsilon(v, x, sigma);
    for (let i = 0; i < 3; i++) expect(back[i]).toBeCloseTo(eps[i]!, 5);
  });

  it('draws the same standard normal numbers for the same seed', () => {
    const a = seededNormal(42);
    const b = seededNormal(42);
    const xs = Array.from({ length: 20_000 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs.slice(0, 5));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(variance).toBeGreaterThan(0.95);
    expect(variance).toBeLessThan(1.05);
    expect(seededNormal(43)()).not.toBe(xs[0]);
    // Filling an array continues the same sequence (float32-rounded).
    const c = seededNormal(42);
    c();
    expect([...c.fill(new Float32Array(3))]).toEqual(xs.slice(1, 4).map(Math.fround));
  });
});
