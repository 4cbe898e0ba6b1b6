import type { CallOptions, Inference } from '../shared/inference.ts';
import type { Catalog } from '../shared/schemas/catalog.ts';
import type { ChatEvent, ChatRequest } from '../shared/schemas/chat.ts';
import type { CompletionRequest } from '../shared/schemas/completions.ts';
import type { EmbedResult } from '../shared/schemas/embeddings.ts';
import type {
  AnalyzeRequest,
  AnalyzeResult,
  GenerateRequest,
  ImageEvent,
  OcrRequest,
  OcrResult,
  RefineRequest,
} from '../shared/schemas/images.ts';
import { AppError } from '../shared/errors.ts';
import type { LoadEvent, ModelSummary } from '../shared/schemas/models.ts';
import type { RunnerStatus } from '../shared/schemas/runner.ts';
import type { SpeechEvent, SpeechModels, SpeechRequest } from '../shared/schemas/speech.ts';
import type { RunnerSample } from '../shared/schemas/system-metrics.ts';
import type { LlmEngine } from './llm/llm-engine.ts';
import { onnxExecutionProviders } from './onnx/onnx-session-options.ts';
import type { TtsEngine } from './speech/tts-engine.ts';
import { MetricsSampler } from './system/metrics-sampler.ts';
import type { ClipEngine } from './vision/clip/clip-engine.ts';
import type { DiffusionEngine } from './vision/diffusion/diffusion-engine.ts';
import type { OcrEngine } from './vision/ocr/ocr-engine.ts';

export interface LocalInferenceOptions {
  catalog: Catalog;
  runnerId: string;
  llm: LlmEngine;
  /** OCR, on the same model host as `llm`; without it OCR is a 503. */
  ocr?: OcrEngine;
  /** CLIP labelling, on the same model host; without it image analysis is a 503. */
  clip?: ClipEngine;
  /** Image generation and refinement, on the same model host; without it they are 503s. */
  diffusion?: DiffusionEngine;
  /** Text-to-speech (espeak-ng); without it speech is a 503. */
  tts?: TtsEngine;
  /** Reads this machine for `systemMetrics()`; default `new MetricsSampler()`. */
  sampler?: Pick<MetricsSampler, 'sample'>;
}

/** `Inference` over the engines in this process (embedded server and runner rpc). */
export class LocalInference implements Inference {
  readonly #sampler: Pick<MetricsSampler, 'sample'>;

  constructor(readonly options: LocalInferenceOptions) {
    this.#sampler = options.sampler ?? new MetricsSampler();
  }

  get #llm(): LlmEngine {
    return this.options.llm;
  }

  async listModels(): Promise<ModelSummary[]> {
    return Object.entries(this.options.catalog.models).map(([id, entry]) => ({
      id,
      kind: entry.kind,
      loaded: this.#llm.isLoaded(id),
    }));
  }

  async status(): Promise<RunnerStatus[]> {
    return [
      {
        id: this.options.runnerId,
        loadedModels: this.#llm.loadedNames,
        capacity: this.#llm.capacity,
        busy: this.#llm.busy,
        models: this.#llm.sequences,
        onnxProviders: [...onnxExecutionProviders()],
      },
    ];
  }

  async loadModel(name: string, options: CallOptions = {}): Promise<AsyncIterable<LoadEvent>> {
    const events = this.#llm.load(name, { signal: options.signal });
    options.onRoute?.(this.options.runnerId);
    return events;
  }

  async unloadModel(name: string): Promise<boolean> {
    this.#llm.entry(name);
    return this.#llm.unload(name);
  }

  async chat(request: ChatRequest, options: CallOptions & { sessionId: string }): Promise<AsyncIterable<ChatEvent>> {
    const { sessionId, signal, download } = options;
    const events = await this.#llm.chat(request, { sessionId, signal, download });
    options.onRoute?.(this.options.runnerId);
    return events;
  }

  async complete(
    request: CompletionRequest,
    options: CallOptions & { sessionId: string },
  ): Promise<AsyncIterable<ChatEvent>> {
    const { sessionId, signal, download } = options;
    const events = await this.#llm.complete(request, { sessionId, signal, download });
    options.onRoute?.(this.options.runnerId);
    return events;
  }

  async embed(model: string, inputs: (string | number[])[], options: CallOptions = {}): Promise<EmbedResult> {
    return this.#llm.embed(model, inputs, { signal: options.signal, download: options.download });
  }

  async ocr(request: OcrRequest, options: CallOptions = {}): Promise<OcrResult> {
    const engine = this.options.ocr;
    if (!engine) throw new AppError(503, 'OCR is not available on this runner', { code: 'capability_unavailable' });
    const result = await engine.read(request, { signal: options.signal, download: options.download });
    options.onRoute?.(this.options.runnerId);
    return result;
  }

  async analyzeImage(request: AnalyzeRequest, options: CallOptions = {}): Promise<AnalyzeResult> {
    const engine = this.options.clip;
    if (!engine)
      throw new AppError(503, 'Image analysis is not available on this runner', { code: 'capability_unavailable' });
    const result = await engine.analyze(request, { signal: options.signal, download: options.download });
    options.onRoute?.(this.options.runnerId);
    return result;
  }

  async generateImage(request: GenerateRequest, options: CallOptions = {}): Promise<AsyncIterable<ImageEvent>> {
    const events = await this.#diffusion().generate(request, { signal: options.signal, download: options.download });
    options.onRoute?.(this.options.runnerId);
    return events;
  }

  async refineImage(request: RefineRequest, options: CallOptions = {}): Promise<AsyncIterable<ImageEvent>> {
    const events = await this.#diffusion().refine(request, { signal: options.signal, download: options.download });
    options.onRoute?.(this.options.runnerId);
    return events;
  }

  #diffusion(): DiffusionEngine {
    const engine = this.options.diffusion;
    if (!engine)
      throw new AppError(503, 'Image generation is not available on this runner', { code: 'capability_unavailable' });
    return engine;
  }

  async speak(request: SpeechRequest, options: CallOptions = {}): Promise<AsyncIterable<SpeechEvent>> {
    const events = await this.#tts().speak(request, { signal: options.signal });
    options.onRoute?.(this.options.runnerId);
    return events;
  }

  async listSpeechModels(): Promise<SpeechModels> {
    return { models: { tts: this.options.tts ? await this.options.tts.models() : {}, stt: {} } };
  }

  #tts(): TtsEngine {
    const engine = this.options.tts;
    if (!engine)
      throw new AppError(503, 'Text-to-speech is not available on this runner', { code: 'capability_unavailable' });
    return engine;
  }

  async stop(sessionId: string): Promise<boolean> {
    return this.#llm.stop(sessionId);
  }

  async systemMetrics(): Promise<RunnerSample[]> {
    return [{ runner: this.options.runnerId, sample: await this.#sampler.sample() }];
  }
}
