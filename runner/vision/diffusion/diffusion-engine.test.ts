import { tmpdir } from 'node:os';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { appErrorOf } from '../../../test/helpers/rejection.ts';
import { GenerateRequest, RefineRequest, type ImageDone, type ImageEvent } from '../../../shared/schemas/images.ts';
import { TINY_CATALOG } from '../../../test/helpers/tiny-models.ts';
import { sharedModelHost } from '../../host/shared-host.ts';
import { modelFiles } from '../../models/model-files.ts';
import { DiffusionEngine } from './diffusion-engine.ts';

const host = sharedModelHost({
  models: TINY_CATALOG.models,
  files: modelFiles({ modelsDir: tmpdir() }),
  keepAliveMs: -1,
});
const engine = new DiffusionEngine({ host, threads: 1 });
afterAll(() => host.dispose());

async function collect(events: AsyncIterable<ImageEvent>) {
  const all: ImageEvent[] = [];
  for await (const event of events) all.push(event);
  const done = all.at(-1) as ImageDone;
  expect(done.status).toBe('completed');
  return { progress: all.slice(0, -1).map((e) => (e as { progress: number }).progress), done };
}

const generate = async (request: Record<string, unknown>) =>
  collect(await engine.generate(GenerateRequest.parse(request)));
const refine = async (request: Record<string, unknown>) => collect(await engine.refine(RefineRequest.parse(request)));

async function png(done: ImageDone) {
  const image = sharp(Buffer.from(done.image, 'base64'));
  const meta = await image.metadata();
  return { format: meta.format, width: meta.width, height: meta.height, pixels: await image.raw().toBuffer() };
}

const solid = async (width: number, height: number, colour: string) =>
  (
    await sharp({ create: { width, height, channels: 3, background: colour } })
      .png()
      .toBuffer()
  ).toString('base64');

const rejection = appErrorOf;

describe('DiffusionEngine: text to image on tiny generated pipelines', () => {
  it('draws with the default model (sdxl-turbo): progress per step, then a PNG of the model size', async () => {
    const { progress, done } = await generate({ prompt: 'a photo of a cat', seed: 7 });
    expect(progress).toEqual([0, 0.5, 1]);
    expect(done).toMatchObject({ model: 'sdxl-turbo', seed: 7, width: 64, height: 64 });
    expect(await png(done)).toMatchObject({ format: 'png', width: 64, height: 64 });
  });

  it('reproduces an image from its seed; another seed or prompt draws another', async () => {
    const base = { prompt: 'a red house', steps: 3, width: 64, height: 64 };
    const [a, b, c, d] = await Promise.all([
      generate({ ...base, seed: 42 }),
      generate({ ...base, seed: 42 }),
      generate({ ...base, seed: 43 }),
      generate({ ...base, seed: 42, prompt: 'a blue tree' }),
    ]);
    expect(b.done.image).toBe(a.done.image);
    expect(c.done.image).not.toBe(a.done.image);
    expect(d.done.image).not.toBe(a.done.image);
    expect(typeof (await generate({ prompt: 'a cat' })).done.seed).toBe('number');
  });

  it('draws the requested size, within the model bounds', async () => {
    const { done } = await generate({ prompt: 'a horse', width: 128, height: 64, seed: 1 });
    expect(await png(done)).toMatchObject({ width: 128, height: 64 });
    const tooWide = await rejection(engine.generate(GenerateRequest.parse({ prompt: 'a horse', width: 512 })));
    expect(tooWide).toMatchObject({ status: 400, param: 'width' });
    expect(tooWide.message).toMatch(/at most 256/);
  });

  it('runs classifier-free guidance with a negative prompt, and either Euler sampler, on an SD 1.x layout', async () => {
    const base = { model_type: 'tiny-sd', prompt: 'a painting of a dog', seed: 5, steps: 3 };
    const [guided, negative, plain, unguided] = await Promise.all([
      generate(base),
      generate({ ...base, negative_prompt: 'a blue sky' }),
      generate({ ...base, scheduler: 'euler_ancestral' }),
      generate({ ...base, guidance_scale: 1 }),
    ]);
    expect(guided.progress).toEqual([0, 0.333, 0.667, 1]);
    expect(new Set([guided, negative, plain, unguided].map((r) => r.done.image)).size).toBe(4);
  });

  it('answers an unknown model with a 404 and another kind of model with a 400 naming model_type', async () => {
    expect(await rejection(engine.generate(GenerateRequest.parse({ prompt: 'x', model_type: 'nope' })))).toMatchObject({
      status: 404,
    });
    const clip = await rejection(engine.generate(GenerateRequest.parse({ prompt: 'x', model_type: 'tiny-clip' })));
    expect(clip).toMatchObject({ status: 400, param: 'model_type' });
  });

  it('stops between steps when the client leaves, and serves the next request', async () => {
    const lease = await host.acquire('tiny-sd');
    const unet = (lease.model as unknown as { unet: { run: (...args: unknown[]) => Promise<unknown> } }).unet;
    lease.release();
    let runs = 0;
    const run = unet.run.bind(unet);
    unet.run = (...args) => {
      runs++;
      return run(...args);
    };
    const controller = new AbortController();
    const events = await engine.generate(GenerateRequest.parse({ model_type: 'tiny-sd', prompt: 'a cat', steps: 60 }), {
      signal: controller.signal,
    });
    for await (const event of events) if ('progress' in event && event.progress > 0) break;
    expect(runs).toBeLessThanOrEqual(2);

    const aborted = await engine.generate(
      GenerateRequest.parse({ model_type: 'tiny-sd', prompt: 'a cat', steps: 60 }),
      {
        signal: controller.signal,
      },
    );
    const seen: ImageEvent[] = [];
    const draining = (async () => {
      for await (const event of aborted) {
        seen.push(event);
        if (seen.length === 2) controller.abort();
      }
    })();
    await expect(draining).rejects.toThrow();
    expect(seen.length).toBeLessThan(5);
    expect((await generate({ model_type: 'tiny-sd', prompt: 'a cat', steps: 2 })).progress).toEqual([0, 0.5, 1]);
  });
});

describe('DiffusionEngine: refinement (img2img)', () => {
  it('redraws strength × steps of the schedule on the image, keeping its size rounded to multiples of 8', async () => {
    const image = await solid(75, 90, '#3366cc');
    const { progress, done } = await refine({ image, prompt: 'a blue sky', steps: 10, strength: 0.3, seed: 3 });
    expect(progress).toEqual([0, 0.333, 0.667, 1]);
    expect(await png(done)).toMatchObject({ width: 72, height: 88 });
    const stronger = await refine({ image, prompt: 'a blue sky', steps: 10, strength: 0.9, seed: 3 });
    expect(stronger.progress).toHaveLength(10);
    expect(stronger.done.image).not.toBe(done.image);
  });

  it('keeps more of the image at low strength (SD layout, latent_sample encoder)', async () => {
    const image = await solid(64, 64, '#c03020');
    const source = (await sharp(Buffer.from(image, 'base64')).raw().toBuffer()) as Buffer;
    const distance = async (strength: number) => {
      const { done } = await refine({
        model_type: 'tiny-sd',
        image,
        prompt: 'a red house',
        steps: 10,
        strength,
        seed: 9,
      });
      const { pixels } = await png(done);
      let sum = 0;
      for (let i = 0; i < pixels.length; i++) sum += Math.abs(pixels[i]! - source[i]!);
      return sum / pixels.length;
    };
    expect(await distance(0.1)).toBeLessThan(await distance(1));
  });

  it('resizes to width × height when both are given', async () => {
    const image = await solid(100, 40, '#808080');
    const { done } = await refine({ image, prompt: 'a tree', width: 64, height: 128, steps: 4, strength: 0.5 });
    expect(await png(done)).toMatchObject({ width: 64, height: 128 });
  });

  it('refuses strength × steps under one step, and an image that is not one, with 400s naming the field', async () => {
    const image = await solid(64, 64, '#000000');
    expect(() => RefineRequest.parse({ image, prompt: 'x', steps: 2, strength: 0.3 })).toThrow(/strength × steps/);
    // The model's default steps (sdxl-turbo here: 2) are only known on the runner.
    const defaults = await rejection(engine.refine(RefineRequest.parse({ image, prompt: 'x' })));
    expect(defaults).toMatchObject({ status: 400, param: 'strength' });
    expect(defaults.message).toMatch(/0\.3 × 2/);
    const broken = Buffer.from('not an image at all').toString('base64');
    expect(
      await rejection(engine.refine(RefineRequest.parse({ image: broken, prompt: 'x', steps: 10 }))),
    ).toMatchObject({
      status: 400,
      param: 'image',
    });
  });

  it('accepts the document section 9 spelling sdxl/turbo', () => {
    expect(GenerateRequest.parse({ prompt: 'x', model_type: 'sdxl/turbo' }).model_type).toBe('sdxl-turbo');
  });
});

// A model whose thread died is reloaded (the same path as the other image engines).
it('reloads a model whose onnxruntime thread died', async () => {
  const lease = await host.acquire('sdxl-turbo');
  const model = lease.model as unknown as { worker: { terminate(): Promise<void> } };
  lease.release();
  await model.worker.terminate();
  await expect(generate({ prompt: 'a cat' })).rejects.toThrow(/exited/);
  expect(host.isLoaded('sdxl-turbo')).toBe(false);
  expect((await generate({ prompt: 'a cat' })).done.width).toBe(64);
});

it('counts a pipeline memory as its weights once plus activations, not three times its files', async () => {
  const { diffusionMemoryNeed } = await import('./diffusion-engine.ts');
  const GB = 1024 ** 3;
  // SDXL-turbo in float16 (~7 GB of files): weights × 1.25, 1.5 GB of activations, 64 MB.
  expect(diffusionMemoryNeed(7 * GB) / GB).toBeCloseTo(8.75 + 1.5 + 1 / 16, 6);
  // A tiny generated pipeline stays tiny.
  expect(diffusionMemoryNeed(100_000)).toBeLessThan(70 * 1024 ** 2);
});

it("follows the scheduler config's prediction type (v_prediction, SD 2.x at 768²)", async () => {
  const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { SD_FILES, writeTinySd } = await import('../../../test/fixtures/tiny-sd.ts');
  const draw = async (prediction: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'edgerunner-sd-v-'));
    writeTinySd(dir, { variant: 'sd' });
    const config = join(dir, SD_FILES.scheduler!);
    writeFileSync(config, JSON.stringify({ ...JSON.parse(readFileSync(config, 'utf8')), prediction_type: prediction }));
    const models = { sd: { kind: 'image' as const, source: dir, files: SD_FILES, image: { size: 64 } } };
    const own = sharedModelHost({ models, files: modelFiles({ modelsDir: dir }), keepAliveMs: -1 });
    try {
      const events = await new DiffusionEngine({ host: own, threads: 1 }).generate(
        GenerateRequest.parse({ prompt: 'a cat', steps: 3, seed: 1, scheduler: 'euler' }),
      );
      return (await collect(events)).done.image;
    } finally {
      await own.dispose();
    }
  };
  const [epsilon, v] = await Promise.all([draw('epsilon'), draw('v_prediction')]);
  expect(v).not.toBe(epsilon);
});
