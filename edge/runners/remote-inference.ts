import { AppError } from '../../shared/errors.ts';
import type { CallOptions, Inference } from '../../shared/inference.ts';
import type { ChatEvent, ChatRequest } from '../../shared/schemas/chat.ts';
import type { CompletionRequest } from '../../shared/schemas/completions.ts';
import { EmbedResult, type EmbedInput } from '../../shared/schemas/embeddings.ts';
import {
  AnalyzeResult,
  OcrResult,
  type AnalyzeRequest,
  type GenerateRequest,
  type ImageEvent,
  type OcrRequest,
  type RefineRequest,
} from '../../shared/schemas/images.ts';
import { ModelList, type LoadEvent, type ModelSummary } from '../../shared/schemas/models.ts';
import { SpeechModels, type SpeechEvent, type SpeechRequest } from '../../shared/schemas/speech.ts';
import { parseSSE, SSEEventTooLarge } from '../../shared/sse.ts';
import { requireFinal } from '../../shared/stream-end.ts';
import type { RunnerStatus } from '../../shared/schemas/runner.ts';
import { SystemSample, type RunnerSample } from '../../shared/schemas/system-metrics.ts';
import type { CallInit, PickHints, RunnerPool, RunnerState } from './pool.ts';
import { noRunner, runnerError, runnerLost, runnerStreamIncomplete } from './runner-errors.ts';

export { runnerError } from './runner-errors.ts';

/** How long a runner has to answer a system-metrics call before it is left out of that answer. */
const METRICS_TIMEOUT_MS = 3_000;

type StreamErrorEvent = { type: 'error'; error: { message: string; status: number; code?: string } };

function isErrorEvent(event: unknown): event is StreamErrorEvent {
  return typeof event === 'object' && event !== null && 'type' in event && event.type === 'error' && 'error' in event;
}

/** `Inference` over the runner pool: what the edge uses when engines live on runner nodes. */
export class RemoteInference implements Inference {
  constructor(readonly pool: RunnerPool) {}

  /** The union of every reachable runner's catalog; a model is loaded if any runner has it loaded. */
  async listModels(options: CallOptions = {}): Promise<ModelSummary[]> {
    const runners = await this.pool.candidates();
    if (runners.length === 0) throw noRunner();
    if (runners.length === 1) {
      return this.#catalogOf(runners[0]!, options.signal).catch((err: unknown) => {
        throw err instanceof AppError ? err : noRunner(1);
      });
    }
    const lists = await Promise.allSettled(runners.map((runner) => this.#catalogOf(runner, options.signal)));
    const merged = new Map<string, ModelSummary>();
    let answered = false;
    for (const list of lists) {
      if (list.status !== 'fulfilled') continue;
      answered = true;
      for (const m of list.value) {
        const prev = merged.get(m.id);
        merged.set(m.id, prev ? { ...prev, loaded: prev.loaded || m.loaded } : m);
      }
    }
    if (!answered) {
      const first = lists.find((l) => l.status === 'rejected');
      if (first?.status === 'rejected' && first.reason instanceof AppError) throw first.reason;
      throw noRunner(runners.length);
    }
    return [...merged.values()];
  }

  async #catalogOf(runner: RunnerState, signal: AbortSignal | undefined): Promise<ModelSummary[]> {
    const res = await this.pool.callRunner(runner, '/_runner/v1/models', { signal });
    if (!res.ok) throw await runnerError(res);
    return ModelList.parse(await res.json()).models;
  }

  async status(): Promise<RunnerStatus[]> {
    const runners = await this.pool.list();
    return runners.flatMap((r) => (r.status ? [r.status] : []));
  }

  async loadModel(name: string, options: CallOptions = {}): Promise<AsyncIterable<LoadEvent>> {
    const path = `/_runner/v1/models/${encodeURIComponent(name)}/load`;
    return this.#stream<LoadEvent>(
      path,
      { method: 'POST', signal: options.signal },
      { model: name, runnerId: options.runnerId },
      options,
      (event) => 'error' in event || ('status' in event && event.status === 'loaded'),
      (event, runner) => {
        if ('status' in event && event.status === 'loaded') this.pool.noteModel(runner, name, true);
      },
    );
  }

  /** Unloads the model from every runner that has it. */
  async unloadModel(name: string, options: CallOptions = {}): Promise<boolean> {
    const path = `/_runner/v1/models/${encodeURIComponent(name)}/unload`;
    const runners = await this.pool.candidates();
    if (runners.length === 0) throw noRunner();
    const results = await Promise.all(
      runners.map(async (runner) => {
        const res = await this.pool.callRunner(runner, path, { method: 'POST', signal: options.signal });
        if (!res.ok) throw await runnerError(res);
        const { unloaded } = (await res.json()) as { unloaded: boolean };
        this.pool.noteModel(runner, name, false);
        return unloaded;
      }),
    );
    return results.some(Boolean);
  }

  async chat(request: ChatRequest, options: CallOptions & { sessionId: string }): Promise<AsyncIterable<ChatEvent>> {
    return this.#generate('/_runner/v1/chat', request, options);
  }

  async complete(
    request: CompletionRequest,
    options: CallOptions & { sessionId: string },
  ): Promise<AsyncIterable<ChatEvent>> {
    return this.#generate('/_runner/v1/complete', request, options);
  }

  /** A generation rpc on the session's runner: streams its events until `done`. */
  #generate(
    path: string,
    request: ChatRequest | CompletionRequest,
    options: CallOptions & { sessionId: string },
  ): Promise<AsyncIterable<ChatEvent>> {
    const body = { sessionId: options.sessionId, request, download: options.download };
    return this.#stream<ChatEvent>(
      path,
      { method: 'POST', body, signal: options.signal },
      { model: request.model, runnerId: options.runnerId },
      options,
      (event) => event.type === 'done',
    );
  }

  async embed(model: string, inputs: EmbedInput[], options: CallOptions = {}): Promise<EmbedResult> {
    const init = { method: 'POST', body: { model, inputs, download: options.download }, signal: options.signal };
    const { response } = await this.pool.call('/_runner/v1/embed', init, { model, runnerId: options.runnerId });
    if (!response.ok) throw await runnerError(response);
    return EmbedResult.parse(await response.json());
  }

  /**
   * OCR on a runner serving `request.model`; without a model, on any runner (one without an OCR model answers
   * 503 and the next is tried).
   */
  ocr(request: OcrRequest, options: CallOptions = {}): Promise<OcrResult> {
    return this.#imageCall('/_runner/v1/images/ocr', request, options, OcrResult);
  }

  /** CLIP labelling on a runner serving `request.model` (any runner with one when no model is named). */
  analyzeImage(request: AnalyzeRequest, options: CallOptions = {}): Promise<AnalyzeResult> {
    return this.#imageCall('/_runner/v1/images/analyze', request, options, AnalyzeResult);
  }

  /** Image generation on a runner serving `request.model_type` (any runner with an image model when none is named). */
  generateImage(request: GenerateRequest, options: CallOptions = {}): Promise<AsyncIterable<ImageEvent>> {
    return this.#drawing('/_runner/v1/images/generate', request, options);
  }

  /** img2img, the same way. */
  refineImage(request: RefineRequest, options: CallOptions = {}): Promise<AsyncIterable<ImageEvent>> {
    return this.#drawing('/_runner/v1/images/refine', request, options);
  }

  #drawing(
    path: string,
    request: GenerateRequest | RefineRequest,
    options: CallOptions,
  ): Promise<AsyncIterable<ImageEvent>> {
    return this.#stream<ImageEvent>(
      path,
      { method: 'POST', body: { ...request, download: options.download }, signal: options.signal },
      { model: request.model_type, runnerId: options.runnerId },
      options,
      (event) => 'status' in event && event.status === 'completed',
    );
  }

  /** Text-to-speech on any runner that speaks (one without it answers 503 and the next is tried). */
  speak(request: SpeechRequest, options: CallOptions = {}): Promise<AsyncIterable<SpeechEvent>> {
    return this.#stream<SpeechEvent>(
      '/_runner/v1/audio/speak',
      { method: 'POST', body: request, signal: options.signal },
      { runnerId: options.runnerId },
      options,
      (event) => 'status' in event && event.status === 'completed',
    );
  }

  /** The union of what every reachable runner can speak and transcribe. */
  async listSpeechModels(options: CallOptions = {}): Promise<SpeechModels> {
    const runners = await this.pool.candidates();
    if (runners.length === 0) throw noRunner();
    const lists = await Promise.allSettled(
      runners.map(async (runner) => {
        const res = await this.pool.callRunner(runner, '/_runner/v1/audio/models', { signal: options.signal });
        if (!res.ok) throw await runnerError(res);
        return SpeechModels.parse(await res.json());
      }),
    );
    const merged: SpeechModels = { models: { tts: {}, stt: {} } };
    for (const list of lists) {
      if (list.status !== 'fulfilled') continue;
      Object.assign(merged.models.tts, list.value.models.tts);
      Object.assign(merged.models.stt, list.value.models.stt);
    }
    return merged;
  }

  async #imageCall<T>(
    path: string,
    request: { model?: string },
    options: CallOptions,
    answer: { parse(value: unknown): T },
  ): Promise<T> {
    const init = { method: 'POST', body: { ...request, download: options.download }, signal: options.signal };
    const { response } = await this.pool.call(path, init, { model: request.model, runnerId: options.runnerId });
    if (!response.ok) throw await runnerError(response);
    return answer.parse(await response.json());
  }

  /** Asks every runner to stop the session (it may have moved); true if one did. */
  async stop(sessionId: string, options: CallOptions = {}): Promise<boolean> {
    const runners = await this.pool.candidates({ runnerId: options.runnerId });
    const results = await Promise.allSettled(
      runners.map(async (runner) => {
        const res = await this.pool.callRunner(runner, '/_runner/v1/stop', { method: 'POST', body: { sessionId } });
        return res.ok && ((await res.json()) as { stopped: boolean }).stopped;
      }),
    );
    return results.some((r) => r.status === 'fulfilled' && r.value);
  }

  /**
   * Every live runner's reading, asked in parallel; a runner that fails or
   * takes longer than 3 s is left out of this answer (empty when none answers).
   */
  async systemMetrics(options: CallOptions = {}): Promise<RunnerSample[]> {
    const runners = await this.pool.candidates();
    const timeout = AbortSignal.timeout(METRICS_TIMEOUT_MS);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const readings = await Promise.allSettled(
      runners.map(async (runner): Promise<RunnerSample> => {
        const res = await this.pool.callRunner(runner, '/_runner/v1/system-metrics', { signal });
        if (!res.ok) throw await runnerError(res);
        return { runner: runner.id!, sample: SystemSample.parse(await res.json()) };
      }),
    );
    return readings.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  }

  /**
   * Calls a streaming rpc; an error answer becomes an AppError, an error
   * event ends the stream with one. A stream that breaks (the runner went
   * away) fails with `runner_lost`, one that closes without its final event
   * with `runner_stream_incomplete`; both are logged with the runner.
   */
  async #stream<T>(
    path: string,
    init: CallInit,
    hints: PickHints,
    options: CallOptions,
    isFinal: (event: T) => boolean,
    onEvent?: (event: T, runner: RunnerState) => void,
  ): Promise<AsyncIterable<T>> {
    const { response, runner } = await this.pool.call(path, { ...init, stream: true }, hints);
    if (!response.ok || !response.body) throw await runnerError(response);
    options.onRoute?.(runner.id!);
    const body = response.body;
    const pool = this.pool;
    const signal = options.signal;
    async function* events(): AsyncGenerator<T> {
      const payloads = parseSSE(body, signal);
      try {
        for (;;) {
          let next: IteratorResult<string>;
          try {
            next = await payloads.next();
          } catch (err) {
            if (signal?.aborted) return;
            if (err instanceof SSEEventTooLarge) {
              throw new AppError(502, `Runner ${runner.id} sent an event too large to forward`, {
                code: 'runner_bad_stream',
              });
            }
            const detail =
              err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
            pool.markDown(runner, `lost mid-stream: ${detail}`);
            pool.logger.warn('runner lost mid-stream', { runner: runner.id, url: runner.url, path, error: detail });
            throw runnerLost(runner.id, `the connection broke mid-stream: ${detail}`, err);
          }
          if (next.done) return;
          const event = JSON.parse(next.value) as T | StreamErrorEvent;
          if (isErrorEvent(event)) {
            throw new AppError(event.error.status, event.error.message, { code: event.error.code });
          }
          onEvent?.(event, runner);
          yield event;
        }
      } finally {
        await payloads.return(undefined);
      }
    }
    return requireFinal(events(), {
      isFinal,
      signal,
      ended: () => {
        pool.logger.warn('runner stream ended before its final event', { runner: runner.id, url: runner.url, path });
        return runnerStreamIncomplete(runner.id);
      },
    });
  }
}
