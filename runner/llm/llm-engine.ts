import { stat } from 'node:fs/promises';
import {
  LlamaChat,
  type ChatHistoryItem,
  type LlamaContext,
  type LlamaEmbeddingContext,
  type LlamaGrammar,
  type LlamaModel,
} from 'node-llama-cpp';
import { AsyncQueue } from '../../shared/async-queue.ts';
import { AppError } from '../../shared/errors.ts';
import { randomAlphanumeric } from '../../shared/ids.ts';
import type { CatalogEntry } from '../../shared/schemas/catalog.ts';
import type { ChatEvent, ChatRequest, FinishReason } from '../../shared/schemas/chat.ts';
import type { LoadEvent } from '../../shared/schemas/models.ts';
import { availableMemory } from '../system/memory.ts';
import { renderChatPrompt, type ChatPrompt } from './chat-prompt.ts';
import { checkGguf } from './gguf-check.ts';
import { toChatHistory, toFunctions } from './history.ts';
import { llamaRuntime } from './llama-runtime.ts';
import { LockstepBatcher } from './lockstep.ts';
import { SequenceSlots, type Slot } from './sequence-slots.ts';

/** Where model files come from (the downloader): resolves a catalog entry to a file on disk. */
export interface ModelFiles {
  ensure(
    name: string,
    entry: CatalogEntry,
    options: { signal?: AbortSignal; onProgress?: (fraction: number) => void },
  ): Promise<{ path: string; status: 'exists' | 'completed' }>;
}

export interface LlmEngineOptions {
  models: Record<string, CatalogEntry>;
  files: ModelFiles;
  /** Inference threads (LLM_THREADS). */
  threads: number;
  /** Sequences per loaded model (LLM_PARALLEL); default 4. */
  parallel?: number;
  /** Idle time before a model is unloaded (MODEL_KEEP_ALIVE); -1 never; default 5 min. */
  keepAliveMs?: number;
  /** Callers that may wait for a sequence beyond `parallel`; default 16. */
  maxQueue?: number;
  /** Context size per sequence when the catalog gives none; default 4096. */
  contextSize?: number;
  /** Bytes that can be allocated now; default MemAvailable from /proc/meminfo. */
  availableMemory?: () => number;
}

interface Loaded {
  name: string;
  model: LlamaModel;
  /** Chat models: the context whose sequences sessions borrow. */
  context: LlamaContext | null;
  /** Chat models: batches the decode steps of plain-text generations on `context`. */
  batcher: LockstepBatcher | null;
  /** Embedding models. */
  embedding: LlamaEmbeddingContext | null;
  slots: SequenceSlots;
  bytes: number;
  lastUsed: number;
  idleTimer?: ReturnType<typeof setTimeout>;
}

const DEFAULT_SYSTEM = 'You are a helpful assistant.';

/** What a chat request turns into before a sequence is lent. */
interface Plan {
  history: ChatHistoryItem[];
  functions: ReturnType<typeof offeredFunctions>;
  grammar: LlamaGrammar | undefined;
}

/**
 * LLMs on node-llama-cpp: loading (download on demand, memory check, LRU
 * eviction, idle unload), and chat on per-session sequences so a follow-up
 * turn reuses the KV cache of the turns before it.
 */
export class LlmEngine {
  readonly #loaded = new Map<string, Loaded>();
  readonly #loading = new Map<string, Promise<Loaded>>();
  readonly #opts: Required<LlmEngineOptions>;

  constructor(options: LlmEngineOptions) {
    this.#opts = { parallel: 4, keepAliveMs: 300_000, maxQueue: 16, contextSize: 4096, availableMemory, ...options };
  }

  entry(name: string): CatalogEntry {
    const entry = this.#opts.models[name];
    if (!entry) throw new AppError(404, `Model ${name} not found`, { code: 'model_not_found', param: 'model' });
    return entry;
  }

  isLoaded(name: string): boolean {
    return this.#loaded.has(name);
  }

  get loadedNames(): string[] {
    return [...this.#loaded.keys()];
  }

  get capacity(): number {
    const loaded = [...this.#loaded.values()].filter((l) => l.context);
    return loaded.length ? loaded.reduce((n, l) => n + l.slots.capacity, 0) : this.#opts.parallel;
  }

  get busy(): number {
    return [...this.#loaded.values()].reduce((n, l) => n + l.slots.busy, 0);
  }

  /** Downloads (when missing) and loads `name`, as the document's SSE events. 404 before any event for an unknown name. */
  load(name: string, { signal }: { signal?: AbortSignal } = {}): AsyncIterable<LoadEvent> {
    const entry = this.entry(name);
    if (entry.kind !== 'llm')
      throw new AppError(400, `Model ${name} is a ${entry.kind} model, not an LLM`, { param: 'model' });
    const queue = new AsyncQueue<LoadEvent>();
    (async () => {
      if (!this.#loaded.has(name)) {
        let last = -1;
        const file = await this.#opts.files.ensure(name, entry, {
          signal,
          onProgress: (p) => {
            if (p !== last) queue.push({ progress: (last = p) });
          },
        });
        queue.push({ status: file.status });
        await this.#ensureLoaded(name, file.path);
      } else {
        queue.push({ status: 'exists' });
      }
      queue.push({ status: 'loaded' });
      queue.end();
    })().catch((err: unknown) => queue.fail(err));
    return queue;
  }

  /** Frees the model's memory (context, sequences, weights). False when it was not loaded. */
  async unload(name: string): Promise<boolean> {
    const loaded = this.#loaded.get(name);
    if (!loaded) return false;
    this.#loaded.delete(name);
    clearTimeout(loaded.idleTimer);
    loaded.slots.close(new AppError(503, `Model ${name} was unloaded`, { headers: { 'Retry-After': '1' } }));
    loaded.batcher?.dispose();
    await loaded.context?.dispose();
    await loaded.embedding?.dispose();
    await loaded.model.dispose();
    return true;
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.#loaded.keys()].map((n) => this.unload(n)));
  }

  /** Stops the running generation of a session (the partial answer is kept). */
  stop(sessionId: string): boolean {
    let stopped = false;
    for (const l of this.#loaded.values()) stopped = l.slots.stop(sessionId) || stopped;
    return stopped;
  }

  /**
   * Answers a chat request on the session's sequence. Resolves once a
   * sequence is lent (so 404/429 surface as HTTP errors), then streams.
   */
  async chat(
    request: ChatRequest,
    { sessionId, signal }: { sessionId: string; signal?: AbortSignal },
  ): Promise<AsyncIterable<ChatEvent>> {
    const entry = this.entry(request.model);
    if (entry.kind !== 'llm') throw new AppError(400, `Model ${request.model} is not a chat model`, { param: 'model' });
    if (request.tools?.length && request.responseFormat && request.responseFormat.type !== 'text') {
      throw new AppError(400, 'response_format: cannot be combined with tools', { param: 'response_format' });
    }
    // Everything that can be a 400 (tool results, call arguments, tool_choice, schema) fails before a sequence is lent.
    const plan: Plan = {
      history: systemFirst(toChatHistory(request.messages)),
      functions: offeredFunctions(request),
      grammar: await this.#grammar(request),
    };
    const loaded = await this.#ready(request.model, entry, signal);
    const slot = await loaded.slots.acquire(sessionId, signal);
    loaded.lastUsed = Date.now();
    clearTimeout(loaded.idleTimer);
    return this.#generate(loaded, slot, request, plan, signal);
  }

  #generate(
    loaded: Loaded,
    slot: Slot,
    request: ChatRequest,
    { history, functions, grammar }: Plan,
    signal: AbortSignal | undefined,
  ): AsyncIterable<ChatEvent> {
    const stop = slot.stop!;
    const queue = new AsyncQueue<ChatEvent>(() => stop.abort());
    const abort = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    const onTextChunk = (text: string) => queue.push({ type: 'text', text });
    // Plain-text answers that fit the context decode in lock-step with the other sessions; the rest goes through LlamaChat.
    const prompt = request.tools?.length || grammar ? null : lockstepPrompt(loaded.model, history);
    const batcher =
      prompt &&
      loaded.batcher &&
      loaded.batcher.roomFor(slot.sequence, prompt.tokens.length) >= (request.maxTokens ?? 1)
        ? loaded.batcher
        : null;
    const chat = batcher ? null : new LlamaChat({ contextSequence: slot.sequence, autoDisposeSequence: false });
    let completionTokens = 0;
    let promptTokens: number | undefined;
    const sampling = {
      maxTokens: request.maxTokens,
      temperature: request.temperature ?? 0.7,
      topP: request.topP,
      seed: request.seed,
    };
    const common = {
      ...sampling,
      signal: abort,
      stopOnAbortSignal: true,
      customStopTriggers: request.stop,
      repeatPenalty:
        request.presencePenalty || request.frequencyPenalty
          ? { presencePenalty: request.presencePenalty, frequencyPenalty: request.frequencyPenalty }
          : undefined,
      onTextChunk,
      onToken: (tokens: readonly unknown[]) => void (completionTokens += tokens.length),
    };
    const run = batcher
      ? batcher
          .generate(slot.sequence, prompt!.tokens, {
            ...sampling,
            presencePenalty: request.presencePenalty,
            frequencyPenalty: request.frequencyPenalty,
            stops: [...(request.stop ?? []), ...prompt!.stops],
            hidden: prompt!.hidden,
            signal: abort,
            onTextChunk,
          })
          .then((result) => {
            completionTokens = result.completionTokens;
            promptTokens = result.promptTokens;
            return { metadata: { stopReason: result.stopReason }, functionCalls: undefined };
          })
      : functions
        ? chat!.generateResponse(history, { ...common, functions })
        : chat!.generateResponse(history, { ...common, grammar });
    run
      .then((result) => {
        let finishReason: FinishReason = result.metadata.stopReason === 'maxTokens' ? 'length' : 'stop';
        for (const call of result.functionCalls ?? []) {
          finishReason = 'tool_calls';
          queue.push({
            type: 'tool_call',
            call: {
              id: `call_${randomAlphanumeric(24)}`,
              type: 'function',
              function: { name: call.functionName, arguments: JSON.stringify(call.params ?? {}) },
            },
          });
        }
        const total = promptTokens !== undefined ? promptTokens + completionTokens : slot.sequence.nextTokenIndex;
        queue.push({
          type: 'done',
          finishReason,
          usage: {
            prompt_tokens: promptTokens ?? Math.max(0, total - completionTokens),
            completion_tokens: completionTokens,
            total_tokens: Math.max(total, completionTokens),
          },
        });
        queue.end();
      })
      .catch((err: unknown) => {
        if (abort.aborted) {
          queue.push({
            type: 'done',
            finishReason: 'stop',
            usage: { prompt_tokens: 0, completion_tokens: completionTokens, total_tokens: completionTokens },
          });
          queue.end();
        } else queue.fail(err);
      })
      .finally(() => {
        chat?.dispose({ disposeSequence: false });
        loaded.slots.release(slot);
        loaded.lastUsed = Date.now();
        this.#scheduleIdle(loaded);
      });
    return queue;
  }

  /** Embeds each input with an embedding model; also counts the input tokens. */
  async embed(model: string, inputs: string[], { signal }: { signal?: AbortSignal } = {}) {
    const entry = this.entry(model);
    if (entry.kind !== 'embedding')
      throw new AppError(400, `Model ${model} is not an embedding model`, { param: 'model' });
    const loaded = await this.#ready(model, entry, signal);
    clearTimeout(loaded.idleTimer);
    try {
      const vectors: number[][] = [];
      let tokens = 0;
      for (const input of inputs) {
        signal?.throwIfAborted();
        tokens += loaded.model.tokenize(input).length;
        vectors.push([...(await loaded.embedding!.getEmbeddingFor(input)).vector]);
      }
      return { vectors, tokens };
    } finally {
      loaded.lastUsed = Date.now();
      this.#scheduleIdle(loaded);
    }
  }

  async #grammar(request: ChatRequest): Promise<LlamaGrammar | undefined> {
    const format = request.responseFormat;
    if (!format || format.type === 'text') return undefined;
    const llama = await llamaRuntime();
    if (format.type === 'json_object') return llama.getGrammarFor('json');
    try {
      return await llama.createGrammarForJsonSchema(format.json_schema.schema as never);
    } catch (err) {
      throw new AppError(400, `response_format.json_schema.schema: unsupported schema (${(err as Error).message})`, {
        param: 'response_format.json_schema.schema',
      });
    }
  }

  /** The loaded model, fetched and loaded first when it is not (no progress events: chat and embed load on demand). */
  async #ready(name: string, entry: CatalogEntry, signal: AbortSignal | undefined): Promise<Loaded> {
    const loaded = this.#loaded.get(name);
    if (loaded) return loaded;
    const file = await this.#opts.files.ensure(name, entry, { signal });
    return this.#ensureLoaded(name, file.path);
  }

  #ensureLoaded(name: string, path: string): Promise<Loaded> {
    const ready = this.#loaded.get(name);
    if (ready) return Promise.resolve(ready);
    let pending = this.#loading.get(name);
    if (!pending) {
      pending = this.#loadFile(name, path).finally(() => this.#loading.delete(name));
      this.#loading.set(name, pending);
    }
    return pending;
  }

  async #loadFile(name: string, path: string): Promise<Loaded> {
    const bytes = (await stat(path)).size;
    await checkGguf(path, name);
    await this.#makeRoom(name, bytes);
    const llama = await llamaRuntime();
    const model = await llama.loadModel({ modelPath: path });
    const entry = this.entry(name);
    const contextSize = Math.min(entry.contextSize ?? this.#opts.contextSize, model.trainContextSize || Infinity);
    const threads = this.#opts.threads;
    let context: LlamaContext | null = null;
    let embedding: LlamaEmbeddingContext | null = null;
    try {
      if (entry.kind === 'embedding') embedding = await model.createEmbeddingContext({ contextSize, threads });
      else context = await model.createContext({ sequences: this.#opts.parallel, contextSize, threads });
    } catch (err) {
      await model.dispose();
      throw new AppError(507, `Cannot create a context for ${name}: ${(err as Error).message}`, { cause: err });
    }
    const sequences = context ? Array.from({ length: this.#opts.parallel }, () => context.getSequence()) : [];
    const loaded: Loaded = {
      name,
      model,
      context,
      batcher: context ? new LockstepBatcher(context) : null,
      embedding,
      slots: new SequenceSlots(sequences, name, this.#opts.maxQueue),
      bytes,
      lastUsed: Date.now(),
    };
    this.#loaded.set(name, loaded);
    this.#scheduleIdle(loaded);
    return loaded;
  }

  /** Unloads idle models, least recently used first, until `bytes` (+10%) fit; 507 when they cannot. */
  async #makeRoom(name: string, bytes: number): Promise<void> {
    const need = bytes * 1.1 + 64 * 1024 * 1024;
    const idle = [...this.#loaded.values()].filter((l) => l.slots.busy === 0).sort((a, b) => a.lastUsed - b.lastUsed);
    while (this.#opts.availableMemory() < need && idle.length) await this.unload(idle.shift()!.name);
    if (this.#opts.availableMemory() < need) {
      const gb = (n: number) => (n / 1024 ** 3).toFixed(1);
      throw new AppError(
        507,
        `Not enough memory to load ${name}: needs ~${gb(need)} GB, ${gb(this.#opts.availableMemory())} GB available. Unload a model or pick a smaller quantisation.`,
        {
          code: 'insufficient_memory',
        },
      );
    }
  }

  #scheduleIdle(loaded: Loaded): void {
    clearTimeout(loaded.idleTimer);
    const ms = this.#opts.keepAliveMs;
    if (ms < 0) return;
    loaded.idleTimer = setTimeout(() => {
      if (loaded.slots.busy === 0 && loaded.slots.queued === 0 && this.#loaded.get(loaded.name) === loaded)
        void this.unload(loaded.name);
      else this.#scheduleIdle(loaded);
    }, ms);
    loaded.idleTimer.unref();
  }
}

/** The prompt for the lock-step batcher; null (LlamaChat, which reports the error) when it cannot be rendered. */
function lockstepPrompt(model: LlamaModel, history: ChatHistoryItem[]): ChatPrompt | null {
  try {
    return renderChatPrompt(model, history);
  } catch {
    return null;
  }
}

/** Keeps the last system message first; a default one when there is none. */
function systemFirst(history: ChatHistoryItem[]): ChatHistoryItem[] {
  const system = history.filter((h) => h.type === 'system').at(-1);
  return [system ?? { type: 'system', text: DEFAULT_SYSTEM }, ...history.filter((h) => h.type !== 'system')];
}

/** The tools the model may call: none for `tool_choice: "none"`, only the named one for `{type: "function"}`. */
function offeredFunctions({ tools, toolChoice }: ChatRequest) {
  if (!tools?.length || toolChoice === 'none') return undefined;
  if (typeof toolChoice === 'object') {
    const named = tools.filter((t) => t.function.name === toolChoice.function.name);
    if (named.length === 0) {
      throw new AppError(400, `tool_choice: no tool named ${toolChoice.function.name}`, { param: 'tool_choice' });
    }
    return toFunctions(named);
  }
  return toFunctions(tools);
}
