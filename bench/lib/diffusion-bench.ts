import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Catalog } from '../../shared/schemas/catalog.ts';
import { GenerateRequest } from '../../shared/schemas/images.ts';
import { sharedModelHost } from '../../runner/host/shared-host.ts';
import { modelFiles } from '../../runner/models/model-files.ts';
import { DiffusionEngine } from '../../runner/vision/diffusion/diffusion-engine.ts';
import type { StableDiffusionModel } from '../../runner/vision/diffusion/sd-model.ts';
import { SD_FILES, SDXL_FILES, writeTinySd } from '../../test/fixtures/tiny-sd.ts';
import { median } from './exec-report.ts';

export interface DiffusionCase {
  name: string;
  width: number;
  steps: number;
  guidance: number;
  /** Median wall time of a whole request (engine call to the PNG event), ms. */
  wallMs: number;
  /** Median time inside onnxruntime's `run` for that request, ms. */
  onnxMs: number;
  /** wall / onnx. */
  ratio: number;
  /** The denoising loop alone (first to last progress event: text encoders and UNet steps): wall / run. */
  loopRatio: number;
  /** Median (wall − run) of the loop per UNet step, ms. */
  gluePerStepMs: number;
  /** Median time after the last step (VAE decode, pixels, PNG encode, base64), and the VAE's run time in it, ms. */
  endMs: number;
  endOnnxMs: number;
}

/**
 * The diffusion pipeline's own cost: whole requests through `DiffusionEngine` (what the server runs: text
 * encoders, the UNet loop, the VAE, the PNG) against the time spent inside onnxruntime's `run` calls, on generated
 * pipelines with the real input/output layout and a UNet of 3×3 convolutions heavy enough to stand in for compute
 * (`unetChannels` × `unetLayers`). The goal: wall ≤ 1.1× the run calls.
 */
export async function measureDiffusion({
  rounds = 3,
  channels = 128,
  layers = 8,
}: { rounds?: number; channels?: number; layers?: number } = {}): Promise<DiffusionCase[]> {
  const root = mkdtempSync(join(tmpdir(), 'edgerunner-bench-sd-'));
  writeTinySd(join(root, 'xl'), { variant: 'sdxl', turbo: true, unetChannels: channels, unetLayers: layers });
  writeTinySd(join(root, 'sd'), { variant: 'sd', unetChannels: channels, unetLayers: layers });
  const catalog: Catalog = {
    models: {
      'bench-sdxl-turbo': { kind: 'image', source: join(root, 'xl'), files: SDXL_FILES, image: { guidance: 0 } },
      'bench-sd': { kind: 'image', source: join(root, 'sd'), files: SD_FILES },
    },
  };
  const host = sharedModelHost({ models: catalog.models, files: modelFiles({ modelsDir: root }), keepAliveMs: -1 });
  const engine = new DiffusionEngine({ host });
  const cases = [
    { name: 'SDXL-turbo layout, no guidance', model: 'bench-sdxl-turbo', width: 512, steps: 4, guidance: 0 },
    { name: 'SD 1.x layout, guidance 7.5 (batch of 2)', model: 'bench-sd', width: 512, steps: 20, guidance: 7.5 },
  ];
  const out: DiffusionCase[] = [];
  try {
    for (const c of cases) {
      const lease = await host.acquire(c.model);
      const model = lease.model as unknown as StableDiffusionModel;
      lease.release();
      const request = GenerateRequest.parse({
        model_type: c.model,
        prompt: 'a photo of an astronaut riding a horse',
        width: c.width,
        height: c.width,
        steps: c.steps,
        guidance_scale: c.guidance,
        seed: 1,
      });
      const samples: { wall: number; onnx: number; loop: number; loopOnnx: number; end: number; endOnnx: number }[] =
        [];
      for (let round = 0; round <= rounds; round++) {
        const before = model.onnxMs;
        const started = performance.now();
        let loopStart = { at: started, onnx: before };
        let loopEnd = loopStart;
        let done = false;
        for await (const event of await engine.generate(request)) {
          const mark = { at: performance.now(), onnx: model.onnxMs };
          if ('progress' in event && event.progress === 0) loopStart = mark;
          else if ('progress' in event && event.progress === 1) loopEnd = mark;
          else done = 'status' in event;
        }
        const ended = { at: performance.now(), onnx: model.onnxMs };
        if (!done) throw new Error('no image');
        if (round === 0) continue; // warm-up: first runs allocate onnxruntime's arenas
        samples.push({
          wall: ended.at - started,
          onnx: ended.onnx - before,
          loop: loopEnd.at - loopStart.at,
          loopOnnx: loopEnd.onnx - loopStart.onnx,
          end: ended.at - loopEnd.at,
          endOnnx: ended.onnx - loopEnd.onnx,
        });
      }
      const m = (pick: (x: (typeof samples)[number]) => number) => median(samples.map(pick));
      out.push({
        ...c,
        wallMs: m((x) => x.wall),
        onnxMs: m((x) => x.onnx),
        ratio: m((x) => x.wall / x.onnx),
        loopRatio: m((x) => x.loop / x.loopOnnx),
        gluePerStepMs: m((x) => (x.loop - x.loopOnnx) / c.steps),
        endMs: m((x) => x.end),
        endOnnxMs: m((x) => x.endOnnx),
      });
    }
  } finally {
    await host.dispose();
    rmSync(root, { recursive: true, force: true });
  }
  return out;
}
