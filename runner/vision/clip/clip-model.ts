import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';
import sharp from 'sharp';
import { onnxSessionOptions } from '../../onnx/onnx-session-options.ts';
import { OnnxWorker, type OnnxSession } from '../../onnx/onnx-worker.ts';
import type { RgbImage } from '../ocr/line-crops.ts';

/** The files of a CLIP model in the transformers.js layout, by role (catalog `files`). */
export interface ClipFiles {
  text: string;
  vision: string;
  tokenizer: string;
  tokenizer_config: string;
  config: string;
  preprocessor: string;
}

export const CLIP_ROLES = ['text', 'vision', 'tokenizer', 'tokenizer_config', 'config', 'preprocessor'] as const;

/** One label's probability. */
export interface LabelScore {
  label: string;
  probability: number;
}

/** Label embeddings kept per model (the text model runs only for labels not seen before). */
const MAX_CACHED_LABELS = 4096;
/** OpenAI's CLIP checkpoints all end training with their logit scale at its cap, 100 (ln 100 ≈ 4.6052). */
const DEFAULT_LOGIT_SCALE = 100;

interface Preprocessor {
  size: number;
  mean: number[];
  std: number[];
}

/**
 * CLIP zero-shot labelling on onnxruntime (in a worker thread): the image through the vision model, each label
 * through the text model once (then cached), both unit-normalised, probabilities by a softmax over the labels of
 * the cosine similarities times the model's logit scale.
 */
export class ClipModel {
  readonly kind = 'clip';
  readonly #labels = new Map<string, Float32Array>();

  private constructor(
    private readonly worker: OnnxWorker,
    private readonly text: OnnxSession,
    private readonly vision: OnnxSession,
    private readonly tokenizer: Tokenizer,
    private readonly padId: number,
    private readonly maxTokens: number,
    private readonly preprocessor: Preprocessor,
    private readonly logitScale: number,
  ) {}

  static async create(files: ClipFiles, { threads }: { threads?: number } = {}): Promise<ClipModel> {
    const json = async (path: string) => JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    const [tokenizerJson, tokenizerConfig, config, pre] = await Promise.all([
      json(files.tokenizer),
      json(files.tokenizer_config),
      json(files.config),
      json(files.preprocessor),
    ]);
    const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    const padToken = typeof tokenizerConfig.pad_token === 'string' ? tokenizerConfig.pad_token : undefined;
    const padId = (padToken !== undefined ? tokenizer.token_to_id(padToken) : undefined) ?? 0;
    const maxTokens =
      Number(tokenizerConfig.model_max_length) > 0 ? Math.min(77, Number(tokenizerConfig.model_max_length)) : 77;
    const size = pre.crop_size as { height?: number } | number | undefined;
    const preprocessor: Preprocessor = {
      size: (typeof size === 'number' ? size : size?.height) ?? 224,
      mean: (pre.image_mean as number[] | undefined) ?? [0.48145466, 0.4578275, 0.40821073],
      std: (pre.image_std as number[] | undefined) ?? [0.26862954, 0.26130258, 0.27577711],
    };
    const scale = typeof config.logit_scale === 'number' ? Math.exp(config.logit_scale) : DEFAULT_LOGIT_SCALE;
    const options = onnxSessionOptions(threads);
    const worker = new OnnxWorker();
    try {
      const [text, vision] = await Promise.all([
        worker.session(files.text, options),
        worker.session(files.vision, options),
      ]);
      return new ClipModel(worker, text, vision, tokenizer, padId, maxTokens, preprocessor, scale);
    } catch (err) {
      await worker.terminate();
      throw err;
    }
  }

  /** Labels cached now (for tests and metrics). */
  get cachedLabels(): number {
    return this.#labels.size;
  }

  /** Each label's probability for the image, most probable first. */
  async classify(
    image: RgbImage,
    labels: readonly string[],
    { signal }: { signal?: AbortSignal } = {},
  ): Promise<LabelScore[]> {
    const [imageEmbedding, labelEmbeddings] = await Promise.all([this.#embedImage(image), this.#embedLabels(labels)]);
    signal?.throwIfAborted();
    const logits = labelEmbeddings.map((e) => this.logitScale * dot(imageEmbedding, e));
    const max = Math.max(...logits);
    const exps = logits.map((l) => Math.exp(l - max));
    const total = exps.reduce((a, b) => a + b, 0);
    return labels
      .map((label, i) => ({ label, probability: exps[i]! / total }))
      .sort((a, b) => b.probability - a.probability);
  }

  /** CLIP's preprocessing: shortest side to the crop size (bicubic), centre crop, normalise, `[1, 3, S, S]`. */
  async #embedImage(image: RgbImage): Promise<Float32Array> {
    const { size, mean, std } = this.preprocessor;
    const pixels = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
      .resize(size, size, { fit: 'cover', position: 'centre', kernel: 'cubic' })
      .raw()
      .toBuffer();
    const plane = size * size;
    const data = new Float32Array(3 * plane);
    for (let c = 0; c < 3; c++) {
      const a = 1 / (255 * std[c]!);
      const b = -mean[c]! / std[c]!;
      for (let p = 0; p < plane; p++) data[c * plane + p] = pixels[p * 3 + c]! * a + b;
    }
    const out = await this.vision.run({
      [this.vision.inputNames[0]!]: { type: 'float32', data, dims: [1, 3, size, size] },
    });
    return unit(out[pickOutput(this.vision.outputNames, 'image_embeds')]!.data as Float32Array);
  }

  /** The labels' unit embeddings: cached ones as they are, the others in one batch through the text model. */
  async #embedLabels(labels: readonly string[]): Promise<Float32Array[]> {
    const missing = [...new Set(labels.filter((l) => !this.#labels.has(l)))];
    if (missing.length) {
      const encoded = missing.map((l) => this.tokenizer.encode(l).ids.slice(0, this.maxTokens));
      const length = Math.max(...encoded.map((ids) => ids.length));
      const ids = new BigInt64Array(missing.length * length).fill(BigInt(this.padId));
      const mask = new BigInt64Array(missing.length * length);
      encoded.forEach((tokens, i) =>
        tokens.forEach((id, t) => {
          ids[i * length + t] = BigInt(id);
          mask[i * length + t] = 1n;
        }),
      );
      const feeds: Record<string, { type: 'int64'; data: BigInt64Array; dims: number[] }> = {};
      for (const name of this.text.inputNames) {
        if (name === 'input_ids') feeds[name] = { type: 'int64', data: ids, dims: [missing.length, length] };
        else if (name === 'attention_mask') feeds[name] = { type: 'int64', data: mask, dims: [missing.length, length] };
      }
      const out = await this.text.run(feeds);
      const embeds = out[pickOutput(this.text.outputNames, 'text_embeds')]!;
      const dim = embeds.dims[1]!;
      const all = embeds.data as Float32Array;
      missing.forEach((label, i) => {
        if (this.#labels.size >= MAX_CACHED_LABELS) this.#labels.delete(this.#labels.keys().next().value!);
        this.#labels.set(label, unit(all.slice(i * dim, (i + 1) * dim)));
      });
    }
    return labels.map((l) => {
      const e = this.#labels.get(l)!;
      // Most recently used last: the oldest is evicted first.
      this.#labels.delete(l);
      this.#labels.set(l, e);
      return e;
    });
  }

  /** Whether the models' thread died: this model can no longer serve (the host should load it again). */
  get broken(): boolean {
    return this.worker.failed;
  }

  /** Frees the models (their worker thread ends). */
  async dispose(): Promise<void> {
    await this.worker.terminate();
  }
}

function pickOutput(names: readonly string[], wanted: string): string {
  return names.includes(wanted) ? wanted : names[0]!;
}

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

/** The vector scaled to length 1 (a zero vector stays zero). */
function unit(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  return norm > 0 ? v.map((x) => x / norm) : v;
}
