import { AppError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import type { CatalogEntry } from '../../shared/schemas/catalog.ts';
import type { ChatEvent, ChatRequest } from '../../shared/schemas/chat.ts';
import type { CompletionRequest } from '../../shared/schemas/completions.ts';
import type { EmbedResult } from '../../shared/schemas/embeddings.ts';
import type { LoadEvent } from '../../shared/schemas/models.ts';
import { loadEvents } from '../host/load-events.ts';
import { ModelHost, type HostedModel, type Lease, type ModelFiles } from '../host/model-host.ts';
import { availableMemory } from '../system/memory.ts';
import { generateChat, planChat } from './chat-generation.ts';
import { generateCompletion } from './text-completion.ts';
import type { Slot } from './sequence-slots.ts';
import { freeVram } from './llama-runtime.ts';
import { embedInputs, type EmbeddingInput } from './embeddings.ts';
import { llmLoader } from './llm-loader.ts';
import type { ChatModel, EmbeddingModel } from './llm-models.ts';

export type { ModelFiles } from '../host/model-host.ts';

/** A generation's call: the session whose sequence it runs on; `download: false` when a missing file is a 403. */
export interface GenerateOptions {
  sessionId: string;
  signal?: AbortSignal;
  download?: boolean;
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
  /** Most tokens one answer may generate, whatever `max_tokens` asks (LLM_MAX_TOKENS); default: no ceiling beyond the context. */
  maxTokens?: number;
  /** Context size per sequence when the catalog gives none; default 4096. */
  contextSize?: number;
  /** Bytes that can be allocated now; default MemAvailable from /proc/meminfo. */
  availableMemory?: () => number;
  /** Where failures nobody awaits are reported; default none. */
  logger?: Logger;
  /**
   * The model host shared with the other engines of this process (it gets the `llm` and `embedding` loaders);
   * default one of its own over `models` and `files`.
   */
  host?: ModelHost<HostedModel>;
}

/**
 * LLMs on node-llama-cpp: chat on per-session sequences (a follow-up turn
 * reuses the KV cache of the turns before it) and embeddings, over a
 * {@link ModelHost} that downloads, loads, evicts and unloads the models.
 */
export class LlmEngine {
  readonly #host: ModelHost<HostedModel>;
  readonly #parallel: number;
  readonly #maxTokens: number | undefined;
  /** Embedding requests in flight (they count as busy, as chat sequences do). */
  #embedding = 0;

  constructor({
    models,
    files,
    threads,
    parallel = 4,
    keepAliveMs = 300_000,
    maxQueue = 16,
    contextSize = 4096,
    maxTokens,
    availableMemory: memory = availableMemory,
    logger,
    host,
  }: LlmEngineOptions) {
    this.#parallel = parallel;
    this.#maxTokens = maxTokens;
    const loader = llmLoader({ threads, parallel, maxQueue, contextSize });
    this.#host =
      host ??
      new ModelHost<HostedModel>({
        models,
        files,
        keepAliveMs,
        memory: async () => ({ ram: memory(), vram: await freeVram() }),
        logger,
      });
    this.#host.register('llm', loader);
    this.#host.register('embedding', loader);
  }

  entry(name: string): CatalogEntry {
    return this.#host.entry(name);
  }

  isLoaded(name: string): boolean {
    return this.#host.isLoaded(name);
  }

  get loadedNames(): string[] {
    return this.#host.loadedNames;
  }

  get capacity(): number {
    const chats = this.#chats();
    return chats.length ? chats.reduce((n, c) => n + c.slots.capacity, 0) : this.#parallel;
  }

  get busy(): number {
    return this.#chats().reduce((n, c) => n + c.slots.busy, this.#embedding);
  }

  /** Per loaded chat model: sequences generating now and callers waiting for one. */
  get sequences(): { name: string; busy: number; queued: number }[] {
    return this.#chats().map((c) => ({ name: c.slots.model, busy: c.slots.busy, queued: c.slots.queued }));
  }

  /** Downloads (when missing) and loads `name`, as the document's SSE events. 404 before any event for an unknown name. */
  load(name: string, { signal }: { signal?: AbortSignal } = {}): AsyncIterable<LoadEvent> {
    return loadEvents(this.#host, name, { signal });
  }

  /** Frees the model's memory (context, sequences, weights). False when it was not loaded. */
  unload(name: string): Promise<boolean> {
    return this.#host.unload(name);
  }

  dispose(): Promise<void> {
    return this.#host.dispose();
  }

  /** Stops the running generation of a session (the partial answer is kept). */
  stop(sessionId: string): boolean {
    let stopped = false;
    for (const chat of this.#chats()) stopped = chat.slots.stop(sessionId) || stopped;
    return stopped;
  }

  /**
   * Answers a chat request on the session's sequence. Resolves once a
   * sequence is lent (so 404/429 surface as HTTP errors), then streams.
   */
  async chat(
    request: ChatRequest,
    { sessionId, signal, download }: GenerateOptions,
  ): Promise<AsyncIterable<ChatEvent>> {
    this.#chatEntry(request.model);
    const plan = await planChat(request);
    return this.#onSequence(request.model, { sessionId, signal, download }, (chat, slot, onEnd) =>
      generateChat(chat, slot, request, plan, { signal, maxTokens: this.#maxTokens, onEnd }),
    );
  }

  /** A text completion (or fill-in-the-middle) on the session's sequence; resolves once a sequence is lent. */
  async complete(
    request: CompletionRequest,
    { sessionId, signal, download }: GenerateOptions,
  ): Promise<AsyncIterable<ChatEvent>> {
    this.#chatEntry(request.model);
    return this.#onSequence(request.model, { sessionId, signal, download }, (chat, slot, onEnd) =>
      generateCompletion(chat, slot, request, { signal, maxTokens: this.#maxTokens, onEnd }),
    );
  }

  #chatEntry(model: string): void {
    if (this.entry(model).kind !== 'llm')
      throw new AppError(400, `Model ${model} is not a chat model`, { param: 'model' });
  }

  /**
   * Runs `generate` on the session's sequence of `model` (loaded when needed): the model is leased and the
   * sequence lent until `onEnd`; both go back at once when `generate` throws.
   */
  async #onSequence(
    model: string,
    { sessionId, signal, download }: GenerateOptions,
    generate: (chat: ChatModel, slot: Slot, onEnd: () => void) => AsyncIterable<ChatEvent>,
  ): Promise<AsyncIterable<ChatEvent>> {
    const lease = (await this.#host.acquire(model, { signal, download })) as Lease<ChatModel>;
    try {
      const { slots } = lease.model;
      const slot = await slots.acquire(sessionId, signal);
      try {
        return generate(lease.model, slot, () => {
          slots.release(slot);
          lease.release();
        });
      } catch (err) {
        slots.release(slot);
        throw err;
      }
    } catch (err) {
      lease.release();
      throw err;
    }
  }

  /**
   * Embeds each input (text or token ids) with an embedding model; also counts
   * the input tokens. 400 for an input that does not fit. Busy (and its model
   * leased, so neither evicted nor unloaded) from the call until it settles.
   */
  async embed(
    model: string,
    inputs: readonly EmbeddingInput[],
    { signal, download }: { signal?: AbortSignal; download?: boolean } = {},
  ): Promise<EmbedResult> {
    const entry = this.entry(model);
    if (entry.kind !== 'embedding')
      throw new AppError(400, `Model ${model} is not an embedding model`, { param: 'model' });
    this.#embedding++;
    try {
      const lease = (await this.#host.acquire(model, { signal, download })) as Lease<EmbeddingModel>;
      try {
        return await embedInputs(lease.model, inputs, { signal });
      } finally {
        lease.release();
      }
    } finally {
      this.#embedding--;
    }
  }

  #chats(): ChatModel[] {
    return this.#host.models.filter((m): m is ChatModel => m.kind === 'llm');
  }
}

/** Free GPU memory as llama.cpp sees it (0 without a GPU). */
