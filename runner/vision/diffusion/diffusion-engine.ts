import { randomInt } from 'node:crypto';
import sharp from 'sharp';
import { AsyncQueue } from '../../../shared/async-queue.ts';
import { AppError } from '../../../shared/errors.ts';
import { primed } from '../../../shared/primed.ts';
import type { CatalogEntry } from '../../../shared/schemas/catalog.ts';
import {
  imageBase64,
  MAX_IMAGE_SIDE,
  MIN_IMAGE_SIDE,
  type GenerateRequest,
  type ImageEvent,
  type RefineRequest,
} from '../../../shared/schemas/images.ts';
import { modelOfKind } from '../../host/model-choice.ts';
import type { HostedModel, ModelHost, ModelLoader } from '../../host/model-host.ts';
import { onnxLoader } from '../../onnx/onnx-loader.ts';
import { decodeImage, resizeImage } from '../image-decode.ts';
import type { RgbImage } from '../ocr/line-crops.ts';
import { refineSteps } from './denoise.ts';
import { SD_OPTIONAL_ROLES, SD_ROLES, StableDiffusionModel, type DiffusionRun, type SamplerName } from './sd-model.ts';

/** The document's default model, when the catalog has it (else the catalog's first image model). */
export const DEFAULT_IMAGE_MODEL = 'sdxl-turbo';

/** A model's defaults and bounds (catalog `image`, else the document's). */
interface ModelDefaults {
  size: number;
  maxSide: number;
  steps: number;
  guidance: number;
}

interface CallOptions {
  signal?: AbortSignal;
  download?: boolean;
}

/**
 * Image generation and refinement (img2img) over the shared model host: Stable Diffusion pipelines from the catalog
 * (`kind: "image"`, `files` in diffusers' ONNX layout). Each call resolves once the model is loaded and the request
 * fits it (so a bad size or an unknown model is an HTTP status), then streams `{progress}` after each step and
 * `{status: "completed", image}` (PNG base64). Stopping the iteration or aborting `signal` cancels between steps.
 */
export class DiffusionEngine {
  readonly #host: ModelHost<HostedModel>;

  constructor({ host, threads }: { host: ModelHost<HostedModel>; threads?: number }) {
    this.#host = host;
    host.register('image', diffusionLoader({ threads }));
  }

  /** Text-to-image. */
  async generate(request: GenerateRequest, options: CallOptions = {}): Promise<AsyncIterable<ImageEvent>> {
    const model = this.#model(request.model_type);
    const defaults = this.#defaults(model);
    const width = request.width ?? defaults.size;
    const height = request.height ?? defaults.size;
    this.#checkSides(model, { width, height }, defaults);
    return this.#draw(model, options, async () => ({ ...this.#common(request, defaults), width, height }));
  }

  /** img2img: the request's image (its size rounded down to a multiple of 8, within the model's bounds) redrawn. */
  async refine(request: RefineRequest, options: CallOptions = {}): Promise<AsyncIterable<ImageEvent>> {
    const model = this.#model(request.model_type);
    const defaults = this.#defaults(model);
    const common = this.#common(request, defaults);
    if (refineSteps(common.steps, request.strength) < 1)
      throw new AppError(
        400,
        `strength: strength × steps must be at least 1 (here ${request.strength} × ${common.steps}): raise one of them`,
        { param: 'strength' },
      );
    // Decoded before the model is leased: a broken image never costs a model load.
    const decoded = await decodeImage(Buffer.from(imageBase64(request.image), 'base64'), { param: 'image' });
    if (request.width !== undefined && request.height !== undefined) this.#checkSides(model, request, defaults);
    const image =
      request.width !== undefined && request.height !== undefined
        ? await resizeImage(decoded, request.width, request.height)
        : await fitImage(decoded, defaults.maxSide);
    return this.#draw(model, options, async (sd) => {
      if (!sd.canRefine)
        throw new AppError(400, `model_type: ${model} has no VAE encoder in the catalog, so it cannot refine`, {
          param: 'model_type',
        });
      return { ...common, width: image.width, height: image.height, init: { image, strength: request.strength } };
    });
  }

  #checkSides(model: string, sides: { width?: number; height?: number }, defaults: ModelDefaults): void {
    for (const param of ['width', 'height'] as const) {
      if ((sides[param] ?? 0) > defaults.maxSide)
        throw new AppError(400, `${param}: ${model} draws at most ${defaults.maxSide} pixels a side`, { param });
    }
  }

  #model(name: string | undefined): string {
    if (name === undefined && this.#host.catalog[DEFAULT_IMAGE_MODEL]?.kind === 'image') return DEFAULT_IMAGE_MODEL;
    try {
      return modelOfKind(this.#host, 'image', name, 'an image generation');
    } catch (err) {
      // The request's field is `model_type`, not `model`.
      if (err instanceof AppError && err.param === 'model')
        throw new AppError(err.status, err.message.replace(/^model:/, 'model_type:'), { param: 'model_type' });
      throw err;
    }
  }

  #defaults(model: string): ModelDefaults {
    const image: NonNullable<CatalogEntry['image']> = this.#host.catalog[model]?.image ?? {};
    return {
      size: image.size ?? 1024,
      maxSide: image.maxSide ?? MAX_IMAGE_SIDE,
      steps: image.steps ?? 20,
      guidance: image.guidance ?? 7.5,
    };
  }

  #common(request: GenerateRequest | RefineRequest, defaults: ModelDefaults) {
    return {
      prompt: request.prompt,
      negativePrompt: request.negative_prompt || undefined,
      steps: request.steps ?? defaults.steps,
      guidance: request.guidance_scale ?? defaults.guidance,
      sampler: request.scheduler,
      seed: request.seed ?? randomInt(0x100000000),
    };
  }

  /** Leases the model, prepares the run on it, then streams the run's progress and image. */
  async #draw(
    model: string,
    { signal, download }: CallOptions,
    prepare: (sd: StableDiffusionModel) => Promise<Omit<DiffusionRun, 'sampler'> & { sampler?: SamplerName }>,
  ): Promise<AsyncIterable<ImageEvent>> {
    const host = this.#host;
    async function* events(): AsyncGenerator<ImageEvent> {
      const lease = await host.acquire(model, { signal, download });
      const sd = lease.model as unknown as StableDiffusionModel;
      const stop = new AbortController();
      const cancel = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
      let drawing: Promise<unknown> = Promise.resolve();
      try {
        const prepared = await prepare(sd);
        // Unless the request names one, the model's own sampler (its scheduler_config.json).
        const run = { ...prepared, sampler: prepared.sampler ?? sd.defaultSampler };
        yield { progress: 0 };
        const queue = new AsyncQueue<ImageEvent>();
        drawing = sd
          .draw(run, { signal: cancel, onStep: (fraction) => queue.push({ progress: round(fraction) }) })
          .then(async (pixels) => {
            const png = await sharp(pixels.data, { raw: { width: pixels.width, height: pixels.height, channels: 3 } })
              .png()
              .toBuffer();
            queue.push({
              status: 'completed',
              image: png.toString('base64'),
              model,
              seed: run.seed,
              width: run.width,
              height: run.height,
            });
            queue.end();
          })
          .catch((err: unknown) => queue.fail(err));
        yield* queue;
      } finally {
        // The client left or the run failed: stop between steps, and hold the model until its thread is free.
        stop.abort();
        await drawing;
        lease.release();
        if (sd.broken) await host.unload(model).catch(() => false);
      }
    }
    return primed(events());
  }
}

function round(fraction: number): number {
  return Math.round(fraction * 1000) / 1000;
}

/** The image at a multiple of 8 on each side, no side over `maxSide` (scaled down, aspect kept), none under 64. */
async function fitImage(image: RgbImage, maxSide: number): Promise<RgbImage> {
  const scale = Math.min(1, maxSide / Math.max(image.width, image.height));
  const side = (v: number) => Math.max(MIN_IMAGE_SIDE, Math.floor((v * scale) / 8) * 8);
  const [width, height] = [side(image.width), side(image.height)];
  return width === image.width && height === image.height ? image : resizeImage(image, width, height);
}

/**
 * A pipeline holds its weights once (not the three times small models' arenas make) plus the activations of one
 * UNet or VAE run, which grow with the model up to ~1.5 GB (SDXL's VAE decoding 1024²): 1.25 × its files, plus
 * its files' size again up to 1.5 GB, plus 64 MB.
 */
export const diffusionMemoryNeed = (bytes: number) => 1.25 * bytes + Math.min(bytes, 1.5 * 1024 ** 3) + 64 * 1024 ** 2;

export function diffusionLoader({ threads }: { threads?: number }): ModelLoader<HostedModel> {
  return onnxLoader(
    SD_ROLES,
    (files) => StableDiffusionModel.create(files, { threads }),
    SD_OPTIONAL_ROLES,
    diffusionMemoryNeed,
  );
}
