import { readFile } from 'node:fs/promises';
import { onnxSessionOptions } from '../../onnx/onnx-session-options.ts';
import { OnnxWorker, type OnnxSession } from '../../onnx/onnx-worker.ts';
import type { RgbImage } from '../ocr/line-crops.ts';
import { ClipPromptTokenizer } from './clip-prompt-tokenizer.ts';
import { denoise, type DenoiseOptions } from './denoise.ts';
import type { SchedulerConfig } from './euler-schedulers.ts';
import { floatFeed, floatOutput, outputOf, scalarFeed } from './onnx-tensors.ts';
import { encodePrompts, type Conditioning, type TextEncoder } from './text-conditioning.ts';
import { rgbToVaeInput, vaeOutputToRgb } from './vae-pixels.ts';

/** The files of a Stable Diffusion pipeline in diffusers' ONNX layout, by role (catalog `files`). */
export const SD_ROLES = [
  'text_encoder',
  'tokenizer_vocab',
  'tokenizer_merges',
  'tokenizer_config',
  'unet',
  'vae_decoder',
  'scheduler',
] as const;
/** SDXL's second encoder and tokenizer, img2img's VAE encoder, the VAE's config (its scaling factor). */
export const SD_OPTIONAL_ROLES = [
  'text_encoder_2',
  'tokenizer_2_vocab',
  'tokenizer_2_merges',
  'tokenizer_2_config',
  'vae_encoder',
  'vae_config',
] as const;
export type SdFiles = Record<(typeof SD_ROLES)[number], string> &
  Partial<Record<(typeof SD_OPTIONAL_ROLES)[number], string>>;

/** The samplers a request may ask for. */
export type SamplerName = 'euler' | 'euler_ancestral';

/** One run: what to draw, how big, how many steps, with which guidance, sampler and seed. */
export interface DiffusionRun {
  prompt: string;
  negativePrompt?: string;
  width: number;
  height: number;
  steps: number;
  /** Classifier-free guidance scale; ≤ 1 runs the UNet on the prompt alone (turbo models). */
  guidance: number;
  sampler: SamplerName;
  seed: number;
  /** img2img: the starting image (already `width × height`) and how much of it to redraw (0–1]. */
  init?: { image: RgbImage; strength: number };
}

/**
 * A Stable Diffusion 1.x/2.x, SDXL or SDXL-turbo pipeline on onnxruntime (in one worker thread): tokenizers, text
 * encoder(s), the UNet loop of an Euler sampler with classifier-free guidance, the VAE. SDXL is told apart by its
 * second text encoder.
 */
export class StableDiffusionModel {
  readonly kind = 'image';

  private constructor(
    private readonly worker: OnnxWorker,
    private readonly encoders: TextEncoder[],
    private readonly unet: OnnxSession,
    private readonly vaeDecoder: OnnxSession,
    private readonly vaeEncoder: OnnxSession | undefined,
    /** Diffusers' scheduler config (its `_class_name` names the model's own sampler). */
    readonly scheduler: SchedulerConfig & { _class_name?: string },
    private readonly vaeScale: number,
  ) {}

  static async create(files: SdFiles, { threads }: { threads?: number } = {}): Promise<StableDiffusionModel> {
    const json = async (path: string) => JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    const xl = files.text_encoder_2 !== undefined;
    const tokenizers = await Promise.all([
      ClipPromptTokenizer.load({
        vocab: files.tokenizer_vocab,
        merges: files.tokenizer_merges,
        config: files.tokenizer_config,
      }),
      ...(xl
        ? [
            ClipPromptTokenizer.load({
              vocab: files.tokenizer_2_vocab ?? files.tokenizer_vocab,
              merges: files.tokenizer_2_merges ?? files.tokenizer_merges,
              config: files.tokenizer_2_config ?? files.tokenizer_config,
            }),
          ]
        : []),
    ]);
    const scheduler = await json(files.scheduler);
    const vaeConfig = files.vae_config ? await json(files.vae_config) : {};
    const vaeScale = typeof vaeConfig.scaling_factor === 'number' ? vaeConfig.scaling_factor : xl ? 0.13025 : 0.18215;
    const options = onnxSessionOptions(threads);
    const worker = new OnnxWorker();
    try {
      const load = (path: string | undefined) => (path ? worker.session(path, options) : Promise.resolve(undefined));
      const [text, text2, unet, decoder, encoder] = await Promise.all([
        load(files.text_encoder),
        load(files.text_encoder_2),
        load(files.unet),
        load(files.vae_decoder),
        load(files.vae_encoder),
      ]);
      const encoders = [{ session: text!, tokenizer: tokenizers[0]! }];
      if (text2) encoders.push({ session: text2, tokenizer: tokenizers[1]! });
      return new StableDiffusionModel(worker, encoders, unet!, decoder!, encoder, scheduler, vaeScale);
    } catch (err) {
      await worker.terminate();
      throw err;
    }
  }

  /** The sampler the model was published with (diffusers' scheduler class), Euler ancestral for any other. */
  get defaultSampler(): SamplerName {
    return this.scheduler._class_name === 'EulerDiscreteScheduler' ? 'euler' : 'euler_ancestral';
  }

  /** Whether img2img works (the pipeline has a VAE encoder). */
  get canRefine(): boolean {
    return this.vaeEncoder !== undefined;
  }

  /** Milliseconds spent in onnxruntime's `run` so far (for the glue benchmark). */
  get onnxMs(): number {
    return this.worker.runMs;
  }

  /** Draws the image: the prompt encoded, the latents denoised step by step (`onStep` after each), decoded. */
  async draw(run: DiffusionRun, options: Pick<DenoiseOptions, 'signal' | 'onStep'> = {}): Promise<RgbImage> {
    const guided = run.guidance > 1;
    const prompts = guided ? [run.negativePrompt ?? '', run.prompt] : [run.prompt];
    const zeroFirst = guided && this.encoders.length > 1 && !run.negativePrompt;
    const conditioning = await encodePrompts(this.encoders, prompts, { zeroFirst });
    options.signal?.throwIfAborted();
    const [h, w] = [run.height / 8, run.width / 8];
    const init = run.init
      ? { latents: await this.#encodeImage(run.init.image), strength: run.init.strength }
      : undefined;
    const latents = await denoise({
      ...options,
      shape: [4, h, w],
      steps: run.steps,
      scheduler: this.scheduler,
      ancestral: run.sampler === 'euler_ancestral',
      seed: run.seed,
      init,
      predict: (input, timestep) => this.#predictNoise(input, timestep, conditioning, run),
    });
    return this.#decode(latents, run.width, run.height);
  }

  /** The UNet's noise prediction, guided: `uncond + g · (cond − uncond)` from one batch-of-two run. */
  async #predictNoise(
    input: Float32Array,
    timestep: number,
    c: Conditioning,
    run: DiffusionRun,
  ): Promise<Float32Array> {
    const batch = c.states.length / (77 * c.width);
    const sample = batch === 1 ? input : new Float32Array(input.length * batch);
    for (let b = 0; batch > 1 && b < batch; b++) sample.set(input, b * input.length);
    const { unet } = this;
    const feeds = {
      [unet.inputNames.includes('sample') ? 'sample' : unet.inputNames[0]!]: floatFeed(unet, 'sample', sample, [
        batch,
        4,
        run.height / 8,
        run.width / 8,
      ]),
      timestep: scalarFeed(unet, 'timestep', timestep),
      encoder_hidden_states: floatFeed(unet, 'encoder_hidden_states', c.states.slice(), [batch, 77, c.width]),
      ...(unet.inputNames.includes('text_embeds') && c.pooled
        ? {
            text_embeds: floatFeed(unet, 'text_embeds', c.pooled.slice(), [batch, c.pooledWidth!]),
            time_ids: floatFeed(unet, 'time_ids', timeIds(run, batch), [batch, 6]),
          }
        : {}),
    };
    const out = floatOutput(outputOf(unet, await unet.run(feeds), 'out_sample'), 'UNet');
    if (batch === 1) return out;
    const n = input.length;
    const noise = new Float32Array(n);
    for (let i = 0; i < n; i++) noise[i] = out[i]! + run.guidance * (out[n + i]! - out[i]!);
    return noise;
  }

  /** img2img's start: the image through the VAE encoder (the mean of its latent distribution), scaled. */
  async #encodeImage(image: RgbImage): Promise<Float32Array> {
    const encoder = this.vaeEncoder;
    if (!encoder) throw new Error('this pipeline has no VAE encoder');
    const input = floatFeed(encoder, encoder.inputNames[0]!, rgbToVaeInput(image), [1, 3, image.height, image.width]);
    const out = outputOf(encoder, await encoder.run({ [encoder.inputNames[0]!]: input }), 'latent_sample');
    const plane = (image.width / 8) * (image.height / 8);
    // `latent_parameters` (newer exports) holds the mean then the log-variance: 8 channels, the first 4 are the mean.
    const mean = floatOutput(out, 'VAE encoder').slice(0, 4 * plane);
    for (let i = 0; i < mean.length; i++) mean[i] = mean[i]! * this.vaeScale;
    return mean;
  }

  async #decode(latents: Float32Array, width: number, height: number): Promise<RgbImage> {
    const decoder = this.vaeDecoder;
    const scaled = new Float32Array(latents.length);
    for (let i = 0; i < latents.length; i++) scaled[i] = latents[i]! / this.vaeScale;
    const feed = floatFeed(decoder, decoder.inputNames[0]!, scaled, [1, 4, height / 8, width / 8]);
    const out = await decoder.run({ [decoder.inputNames[0]!]: feed });
    return vaeOutputToRgb(floatOutput(outputOf(decoder, out, 'sample'), 'VAE decoder'), width, height);
  }

  /** Whether the models' thread died: this model can no longer serve (the host should load it again). */
  get broken(): boolean {
    return this.worker.failed;
  }

  async dispose(): Promise<void> {
    await this.worker.terminate();
  }
}

/** SDXL's micro-conditioning: original size, crop origin, target size (`[h, w, 0, 0, h, w]` per batch entry). */
function timeIds({ width, height }: DiffusionRun, batch: number): Float32Array {
  const ids = new Float32Array(6 * batch);
  for (let b = 0; b < batch; b++) ids.set([height, width, 0, 0, height, width], b * 6);
  return ids;
}
