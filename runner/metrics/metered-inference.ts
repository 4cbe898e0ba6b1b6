import type { MetricsRecorder } from '../../edge/metrics/http-metrics.ts';
import type { CallOptions, Inference } from '../../shared/inference.ts';
import type { ChatEvent, ChatRequest } from '../../shared/schemas/chat.ts';
import type { CompletionRequest } from '../../shared/schemas/completions.ts';
import type { EmbedInput, EmbedResult } from '../../shared/schemas/embeddings.ts';
import type {
  AnalyzeRequest,
  AnalyzeResult,
  GenerateRequest,
  ImageEvent,
  OcrRequest,
  OcrResult,
  RefineRequest,
} from '../../shared/schemas/images.ts';
import type { SpeechEvent, SpeechModels, SpeechRequest } from '../../shared/schemas/speech.ts';
import type { LoadEvent, ModelSummary } from '../../shared/schemas/models.ts';
import type { RunnerStatus } from '../../shared/schemas/runner.ts';
import type { RunnerSample } from '../../shared/schemas/system-metrics.ts';

/**
 * Any `Inference`, measuring each chat and text completion for `recorder`:
 * the time from the call to the first `text` or `tool_call` event (so queueing
 * and loading count, as the caller feels them) and, once the answer is done,
 * its `usage.completion_tokens`. A generation abandoned before its end (the
 * client left) still records its time to first token; its tokens, never
 * reported, are not counted. Everything else passes through.
 */
export class MeteredInference implements Inference {
  constructor(
    readonly inner: Inference,
    readonly recorder: Pick<MetricsRecorder, 'observeGeneration'>,
    readonly now: () => number = () => performance.now(),
  ) {}

  listModels(options?: CallOptions): Promise<ModelSummary[]> {
    return this.inner.listModels(options);
  }

  status(options?: CallOptions): Promise<RunnerStatus[]> {
    return this.inner.status(options);
  }

  loadModel(name: string, options?: CallOptions): Promise<AsyncIterable<LoadEvent>> {
    return this.inner.loadModel(name, options);
  }

  unloadModel(name: string, options?: CallOptions): Promise<boolean> {
    return this.inner.unloadModel(name, options);
  }

  async chat(request: ChatRequest, options: CallOptions & { sessionId: string }): Promise<AsyncIterable<ChatEvent>> {
    const started = this.now();
    return this.#meter(request.model, started, await this.inner.chat(request, options));
  }

  async complete(
    request: CompletionRequest,
    options: CallOptions & { sessionId: string },
  ): Promise<AsyncIterable<ChatEvent>> {
    const started = this.now();
    return this.#meter(request.model, started, await this.inner.complete(request, options));
  }

  embed(model: string, inputs: EmbedInput[], options?: CallOptions): Promise<EmbedResult> {
    return this.inner.embed(model, inputs, options);
  }

  stop(sessionId: string, options?: CallOptions): Promise<boolean> {
    return this.inner.stop(sessionId, options);
  }

  ocr(request: OcrRequest, options?: CallOptions): Promise<OcrResult> {
    return this.inner.ocr(request, options);
  }

  analyzeImage(request: AnalyzeRequest, options?: CallOptions): Promise<AnalyzeResult> {
    return this.inner.analyzeImage(request, options);
  }

  generateImage(request: GenerateRequest, options?: CallOptions): Promise<AsyncIterable<ImageEvent>> {
    return this.inner.generateImage(request, options);
  }

  refineImage(request: RefineRequest, options?: CallOptions): Promise<AsyncIterable<ImageEvent>> {
    return this.inner.refineImage(request, options);
  }

  speak(request: SpeechRequest, options?: CallOptions): Promise<AsyncIterable<SpeechEvent>> {
    return this.inner.speak(request, options);
  }

  listSpeechModels(options?: CallOptions): Promise<SpeechModels> {
    return this.inner.listSpeechModels(options);
  }

  systemMetrics(options?: CallOptions): Promise<RunnerSample[]> {
    return this.inner.systemMetrics(options);
  }

  async *#meter(model: string, started: number, events: AsyncIterable<ChatEvent>): AsyncGenerator<ChatEvent> {
    let ttftSeconds: number | undefined;
    let tokens = 0;
    try {
      for await (const event of events) {
        if (ttftSeconds === undefined && (event.type === 'tool_call' || (event.type === 'text' && event.text))) {
          ttftSeconds = (this.now() - started) / 1000;
        }
        if (event.type === 'done') tokens = event.usage.completion_tokens;
        yield event;
      }
    } finally {
      if (ttftSeconds !== undefined || tokens > 0) this.recorder.observeGeneration({ model, tokens, ttftSeconds });
    }
  }
}
