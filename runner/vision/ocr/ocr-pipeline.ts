import { readFile } from 'node:fs/promises';
import { onnxSessionOptions } from '../../onnx/onnx-session-options.ts';
import { OnnxWorker, type OnnxSession } from '../../onnx/onnx-worker.ts';
import { resizeImage } from '../image-decode.ts';
import { ctcDecode } from './ctc.ts';
import type { Quad } from './geometry.ts';
import { LINE_HEIGHT, lineFrame, sampleLine, type LineFrame, type RgbImage } from './line-crops.ts';
import { readingOrder } from './reading-order.ts';
import { textRegions, type RegionOptions } from './text-regions.ts';

/** The three files of a PaddleOCR model pair. */
export interface OcrFiles {
  /** Text detection (DB), ONNX. */
  detection: string;
  /** Text recognition (CTC), ONNX. */
  recognition: string;
  /** The recognition model's characters, one per line (class c is line c; class 0 is the CTC blank). */
  dictionary: string;
}

export interface OcrOptions {
  /** onnxruntime's threads per model; default the physical cores. */
  threads?: number;
  /** The detection input's longest side, at most (the page is shrunk to it); default 1280. */
  maxSide?: number;
  /** Lines read below this confidence are dropped; default 0.5 (PaddleOCR's `drop_score`). */
  minConfidence?: number;
  /** Lines per recognition run; default 6 (larger batches pad more and run no faster per line on the CPU). */
  batchSize?: number;
  regions?: RegionOptions;
}

/** One line of text found. `box`: its four corners in image pixels, top-left first, clockwise. */
export interface OcrLine {
  text: string;
  confidence: number;
  box: Quad;
}

export interface OcrResult {
  /** The lines' text in reading order, one per line. */
  text: string;
  lines: OcrLine[];
  width: number;
  height: number;
}

/** Detection's input sides are multiples of this. */
const STRIDE = 32;
/** Longest line sampled for recognition (longer lines are squeezed to it). */
const MAX_LINE_WIDTH = 3200;

/**
 * PaddleOCR (PP-OCR) on onnxruntime: text detection, then recognition of the lines found, in reading order.
 * Pre- and post-processing are ours, on typed arrays: the page shrunk by sharp and normalised in one pass;
 * regions from runs of pixels; lines sampled straight from the page into the recognition batch (rotation,
 * scaling and normalisation in one pass); batches of lines of similar width; greedy CTC decoding.
 */
export class OcrPipeline {
  readonly kind = 'ocr';

  private constructor(
    private readonly worker: OnnxWorker,
    private readonly detection: OnnxSession,
    private readonly recognition: OnnxSession,
    private readonly charset: readonly string[],
    private readonly options: Required<Omit<OcrOptions, 'threads' | 'regions'>> & { regions?: RegionOptions },
  ) {}

  static async create(files: OcrFiles, options: OcrOptions = {}): Promise<OcrPipeline> {
    const session = onnxSessionOptions(options.threads);
    // The models run in a worker thread: onnxruntime-node's run blocks the thread that calls it.
    const worker = new OnnxWorker();
    let sessions: [OnnxSession, OnnxSession, string];
    try {
      sessions = await Promise.all([
        worker.session(files.detection, session),
        worker.session(files.recognition, session),
        readFile(files.dictionary, 'utf8'),
      ]);
    } catch (err) {
      await worker.terminate();
      throw err;
    }
    const [detection, recognition, dictionary] = sessions;
    const lines = dictionary.split(/\r?\n/);
    if (lines.at(-1) === '') lines.pop();
    // PaddleOCR's dictionaries leave out the space; the models' last class is it.
    const charset = [...lines, ' '];
    const { maxSide = 1280, minConfidence = 0.5, batchSize = 6, regions = { unclipRatio: 2.5 } } = options;
    return new OcrPipeline(worker, detection, recognition, charset, { maxSide, minConfidence, batchSize, regions });
  }

  /** The text of an RGB image. Aborting `signal` stops between model runs. */
  async read(image: RgbImage, { signal }: { signal?: AbortSignal } = {}): Promise<OcrResult> {
    const quads = await this.#detect(image, signal);
    const order = readingOrder(quads);
    const frames = order.map((i) => ({ quad: quads[i]!, frame: lineFrame(quads[i]!) }));
    const read = await this.#recognize(image, frames, signal);
    const lines: OcrLine[] = [];
    for (let i = 0; i < frames.length; i++) {
      const { text, confidence } = read[i]!;
      const trimmed = text.trim();
      if (!trimmed || confidence < this.options.minConfidence) continue;
      lines.push({ text: trimmed, confidence, box: frames[i]!.quad });
    }
    return { text: lines.map((l) => l.text).join('\n'), lines, width: image.width, height: image.height };
  }

  async #detect(image: RgbImage, signal?: AbortSignal): Promise<Quad[]> {
    const scale = Math.min(1, this.options.maxSide / Math.max(image.width, image.height));
    const width = Math.max(STRIDE, Math.round((image.width * scale) / STRIDE) * STRIDE);
    const height = Math.max(STRIDE, Math.round((image.height * scale) / STRIDE) * STRIDE);
    const small = await resizeImage(image, width, height);
    signal?.throwIfAborted();
    const input = { type: 'float32' as const, data: detectionInput(small), dims: [1, 3, height, width] };
    const output = await this.detection.run({ [this.detection.inputNames[0]!]: input });
    signal?.throwIfAborted();
    const map = output[this.detection.outputNames[0]!]!;
    const regions = textRegions({ data: map.data as Float32Array, width, height }, this.options.regions);
    const sx = image.width / width;
    const sy = image.height / height;
    const clampX = (x: number) => Math.min(image.width, Math.max(0, x * sx));
    const clampY = (y: number) => Math.min(image.height, Math.max(0, y * sy));
    return regions.map(({ quad }) => quad.map(([x, y]) => [clampX(x), clampY(y)]) as Quad);
  }

  /**
   * Reads the lines in batches of similar width (little padding); results in the order of `lines`. The next
   * batch is sampled while the worker runs the current one (one batch in flight besides the one being
   * decoded), so our own work hides behind the model's.
   */
  async #recognize(image: RgbImage, lines: { frame: LineFrame }[], signal?: AbortSignal) {
    const results: { text: string; confidence: number }[] = new Array(lines.length);
    const byWidth = lines.map((_, i) => i).sort((a, b) => lines[a]!.frame.width - lines[b]!.frame.width);
    const batches: number[][] = [];
    for (let start = 0; start < byWidth.length; start += this.options.batchSize)
      batches.push(byWidth.slice(start, start + this.options.batchSize));
    const send = (batch: number[]) => {
      const widest = Math.max(...batch.map((i) => lines[i]!.frame.width));
      const batchWidth = Math.min(MAX_LINE_WIDTH, Math.ceil(widest / 8) * 8);
      const data = new Float32Array(batch.length * 3 * LINE_HEIGHT * batchWidth);
      batch.forEach((line, k) => sampleLine(image, lines[line]!.frame, data, k, batchWidth));
      const input = { type: 'float32' as const, data, dims: [batch.length, 3, LINE_HEIGHT, batchWidth] };
      return this.recognition.run({ [this.recognition.inputNames[0]!]: input });
    };
    let running = batches.length ? send(batches[0]!) : undefined;
    for (let b = 0; b < batches.length; b++) {
      signal?.throwIfAborted();
      const current = running!;
      running = b + 1 < batches.length ? send(batches[b + 1]!) : undefined;
      running?.catch(() => {}); // awaited next turn; a failure while this one is decoded is not unhandled
      const output = await current;
      const probs = output[this.recognition.outputNames[0]!]!;
      const [n, steps, classes] = probs.dims as [number, number, number];
      const decoded = ctcDecode(probs.data as Float32Array, n, steps, classes, this.charset);
      batches[b]!.forEach((line, k) => (results[line] = decoded[k]!));
    }
    return results;
  }

  /** Whether the models' thread died: this pipeline can no longer serve (the host should load it again). */
  get broken(): boolean {
    return this.worker.failed;
  }

  /** Frees the models (their worker thread ends). */
  async dispose(): Promise<void> {
    await this.worker.terminate();
  }
}

/**
 * The detection model's input from RGB pixels: channels B, G, R (PaddleOCR reads images with OpenCV) each
 * normalised with ImageNet's mean and deviation in the order PaddleOCR applies them, `[1, 3, H, W]`.
 */
export function detectionInput(image: RgbImage): Float32Array {
  const { data, width, height } = image;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  // (x / 255 - mean) / std as x * a + b, per channel, in the model's B, G, R order (ImageNet's R, G, B values
  // applied to B, G, R, as PaddleOCR does).
  const aB = 1 / (255 * 0.229);
  const aG = 1 / (255 * 0.224);
  const aR = 1 / (255 * 0.225);
  const bB = -0.485 / 0.229;
  const bG = -0.456 / 0.224;
  const bR = -0.406 / 0.225;
  const g = plane;
  const r = 2 * plane;
  for (let p = 0, i = 0; p < plane; p++, i += 3) {
    out[p] = data[i + 2]! * aB + bB;
    out[g + p] = data[i + 1]! * aG + bG;
    out[r + p] = data[i]! * aR + bR;
  }
  return out;
}
