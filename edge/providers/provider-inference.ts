import type { CallOptions, Inference } from '../../shared/inference.ts';
import type { ChatEvent, ChatRequest } from '../../shared/schemas/chat.ts';
import { AppError } from '../../shared/errors.ts';
import type { CompletionRequest } from '../../shared/schemas/completions.ts';
import type { EmbedResult } from '../../shared/schemas/embeddings.ts';
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
import { checkHostedModel, visibleModels, type ProjectHostedModels } from './hosted-models.ts';
import type { ProjectProviderKeys } from './project-keys.ts';
import type { ProviderRegistry, ResolvedProvider } from './provider-registry.ts';

/**
 * `Inference` that sends provider slugs (`gpt-4o-mini`, `anthropic/…`, a
 * `providers.json` id) to their external provider and everything else to the
 * wrapped `Inference` (local engines or the runner pool). Provider slugs are
 * looked at first, so they shadow a local model of the same name. Which
 * hosted models a caller may use is checked here (`hosted-models.ts`).
 */
export class ProviderInference implements Inference {
  readonly #running = new Map<string, Set<AbortController>>();
  readonly #perProject = new Map<string, { keys: Record<string, string>; registry: ProviderRegistry }>();

  /**
   * `projectKeys`: projects' own provider keys, which win over the server's
   * (absent: the server's only); `hostedModels`: the operator's per-project
   * lists of hosted models (absent: the default policy for every project).
   */
  constructor(
    readonly inner: Inference,
    readonly providers: ProviderRegistry,
    readonly projectKeys?: ProjectProviderKeys,
    readonly hostedModels?: ProjectHostedModels,
  ) {}

  #projectList(projectId: string | null | undefined): Promise<readonly string[] | null> | null {
    return this.hostedModels && projectId ? this.hostedModels.get(projectId) : null;
  }

  /** The provider for `name` when it is a hosted model the caller may use (403 when not); undefined for local ones. */
  async #resolve(name: string, projectId: string | null | undefined): Promise<ResolvedProvider | undefined> {
    const resolved = (await this.#registry(projectId)).resolve(name);
    if (resolved) checkHostedModel(name, resolved, await this.#projectList(projectId));
    return resolved;
  }

  /** The registry for the caller's project: the server's providers, re-keyed with the project's own keys. */
  async #registry(projectId: string | null | undefined): Promise<ProviderRegistry> {
    if (!this.projectKeys || !projectId) return this.providers;
    const keys = await this.projectKeys.get(projectId);
    if (Object.keys(keys).length === 0) return this.providers;
    const known = this.#perProject.get(projectId);
    if (known?.keys === keys) return known.registry;
    const registry = this.providers.withKeys(keys);
    this.#perProject.set(projectId, { keys, registry });
    return registry;
  }

  /**
   * The wrapped list plus the models of every provider whose key is
   * configured (`kind: 'llm'`, always loaded). When the wrapped side fails
   * (e.g. no runner is up) and some provider is configured, lists the
   * provider models alone.
   */
  async listModels(options: CallOptions = {}): Promise<ModelSummary[]> {
    const external = visibleModels(
      await this.#registry(options.projectId),
      await this.#projectList(options.projectId),
    ).map((id) => ({ id, kind: 'llm' as const, loaded: true }));
    let local: ModelSummary[];
    try {
      local = await this.inner.listModels(options);
    } catch (err) {
      if (external.length === 0 || options.signal?.aborted) throw err;
      local = [];
    }
    const ids = new Set(external.map((m) => m.id));
    return [...local.filter((m) => !ids.has(m.id)), ...external];
  }

  status(options?: CallOptions): Promise<RunnerStatus[]> {
    return this.inner.status(options);
  }

  /** Hosted providers have no machine to read: the wrapped side's readings. */
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

  /** A provider model has nothing to load: `exists` then `loaded` (400 when its key is missing). */
  async loadModel(name: string, options: CallOptions = {}): Promise<AsyncIterable<LoadEvent>> {
    if (!(await this.#resolve(name, options.projectId))) return this.inner.loadModel(name, options);
    return (async function* (): AsyncGenerator<LoadEvent> {
      yield { status: 'exists' };
      yield { status: 'loaded' };
    })();
  }

  /** A provider model holds no memory here: false. */
  async unloadModel(name: string, options: CallOptions = {}): Promise<boolean> {
    if ((await this.#registry(options.projectId)).resolve(name)) return false;
    return this.inner.unloadModel(name, options);
  }

  async chat(request: ChatRequest, options: CallOptions & { sessionId: string }): Promise<AsyncIterable<ChatEvent>> {
    const resolved = await this.#resolve(request.model, options.projectId);
    if (!resolved) return this.inner.chat(request, options);
    const controller = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
    const running = this.#running.get(options.sessionId) ?? new Set();
    this.#running.set(options.sessionId, running);
    running.add(controller);
    const release = () => {
      running.delete(controller);
      if (running.size === 0 && this.#running.get(options.sessionId) === running) {
        this.#running.delete(options.sessionId);
      }
    };
    signal.addEventListener('abort', release, { once: true });
    let events: AsyncIterable<ChatEvent>;
    try {
      events = await resolved.provider.chat({ ...request, model: resolved.upstreamModel }, { signal });
    } catch (err) {
      release();
      throw err;
    }
    return (async function* () {
      try {
        yield* events;
      } finally {
        release();
      }
    })();
  }

  /** Text completions are local models' (providers here serve chat only): a 400 for a hosted model. */
  async complete(
    request: CompletionRequest,
    options: CallOptions & { sessionId: string },
  ): Promise<AsyncIterable<ChatEvent>> {
    if ((await this.#registry(options.projectId)).resolve(request.model)) {
      throw new AppError(
        400,
        `model: ${request.model} is a hosted chat model; text completions are served by local models (use /v1/chat/completions)`,
        { param: 'model', code: 'unsupported_value' },
      );
    }
    return this.inner.complete(request, options);
  }

  /** Embeddings stay with the wrapped side (providers here serve chat only). */
  embed(model: string, inputs: string[], options?: CallOptions): Promise<EmbedResult> {
    return this.inner.embed(model, inputs, options);
  }

  /** Stops the session's provider streams (they end with `done`, `stop`) and asks the wrapped side too. */
  async stop(sessionId: string, options: CallOptions = {}): Promise<boolean> {
    const running = [...(this.#running.get(sessionId) ?? [])];
    for (const controller of running) controller.abort();
    const stopped = running.length > 0;
    const inner = await this.inner.stop(sessionId, options).catch((err: unknown) => {
      if (stopped) return false;
      throw err;
    });
    return stopped || inner;
  }
}
