import type { ControlledEvaluateInputItem, LlamaContext, LlamaContextSequence, LlamaText, Token } from 'node-llama-cpp';
import type { TokenLogprob } from '../../shared/schemas/chat.ts';
import { OutputFilter, type HiddenSegment } from './output-filter.ts';
import { PENALTY_LAST_TOKENS, type SamplerOptions } from './sampler-options.ts';
import { tokenLogprob, type SampledToken } from './token-logprobs.ts';

export type LockstepStopReason = 'eog' | 'stop' | 'maxTokens' | 'abort';

/** Sampling (`SamplerOptions`: temperature default 0, greedy, here; node-llama-cpp's defaults otherwise) and the rest. */
export interface LockstepOptions extends Partial<SamplerOptions> {
  /** Tokens to generate at most; default (and at most) the room left in the sequence's context after the prompt. */
  maxTokens?: number;
  /** Stop strings and chat wrapper stop triggers; default none (end-of-generation tokens always stop). */
  stops?: readonly (string | LlamaText)[];
  /** Segments (thoughts) generated but left out of the text; default none. */
  hidden?: readonly HiddenSegment[];
  /** Stops the generation after the step in flight; it resolves with what was generated (reason 'abort'). */
  signal?: AbortSignal;
  /** Each piece of text as soon as it is final (with its tokens' log-probabilities, when asked for). */
  onTextChunk?: (text: string, logprobs?: TokenLogprob[]) => void;
}

export interface LockstepResult {
  text: string;
  stopReason: LockstepStopReason;
  /** The whole prompt's length in tokens. */
  promptTokens: number;
  /** Prompt tokens evaluated by this call (the rest was reused from the sequence's KV cache). */
  evaluatedPromptTokens: number;
  /** Generated tokens in the answer (not counting an end-of-generation token or a stop trigger's tokens). */
  completionTokens: number;
}

/** Counters of the batcher's work since it was created. */
export interface LockstepStats {
  /** Lock-step rounds: each submits one evaluation per active generation, in one tick. */
  steps: number;
  /** Evaluations submitted over all steps (one per active generation per step). */
  evaluations: number;
  /** Evaluations that read a piece of a prompt without sampling (the prompt did not fit one step). */
  promptChunks: number;
}

export interface LockstepBatcherOptions {
  /**
   * Prompt tokens one generation evaluates per step at most. A step holds at most the context's batch size of
   * tokens: the running generations' next tokens first, then pieces of new prompts, so running streams keep
   * getting a token per step while a long prompt is read (as llama-server does). Default the context's batch
   * size; `false` evaluates a whole prompt in one step, during which every other generation waits.
   */
  prefillChunk?: number | false;
}

/** The prompt plus the tokens to generate do not fit the sequence's context (use LlamaChat, which shifts the context). */
export class ContextOverflowError extends Error {
  override name = 'ContextOverflowError';
}

interface Generation {
  sequence: LlamaContextSequence;
  // What the next step evaluates: the prompt's unevaluated tail, then the last sampled token.
  input: Token[];
  options: LockstepOptions;
  filter: OutputFilter;
  tokens: Token[];
  /** What sampling said about each token of `tokens` (only when log-probabilities are asked for). */
  sampled: SampledToken[];
  maxTokens: number;
  promptTokens: number;
  evaluatedPromptTokens: number;
  resolve(result: LockstepResult): void;
  reject(err: unknown): void;
}

/**
 * Batched decoding for the sequences of one LlamaContext. node-llama-cpp's
 * own generation loop (`sequence.evaluate`, LlamaChat) lets concurrent
 * sequences fall into alternating decodes; here every active generation
 * submits its next token in the same tick of each step and all await the
 * step together, so the context decodes them in one batch per step.
 */
export class LockstepBatcher {
  readonly #active = new Set<Generation>();
  readonly #stats: LockstepStats = { steps: 0, evaluations: 0, promptChunks: 0 };
  readonly #prefillChunk: number | false;
  #running = false;
  #disposed = false;

  constructor(
    readonly context: LlamaContext,
    { prefillChunk = context.batchSize }: LockstepBatcherOptions = {},
  ) {
    if (prefillChunk !== false && !(Number.isInteger(prefillChunk) && prefillChunk >= 1))
      throw new RangeError(`prefillChunk must be a positive integer or false, got ${prefillChunk}`);
    this.#prefillChunk = prefillChunk;
  }

  get stats(): LockstepStats {
    return { ...this.#stats };
  }

  /** How many tokens a generation after a prompt of `promptLength` tokens can have on `sequence` (≤ 0: none). */
  roomFor(sequence: LlamaContextSequence, promptLength: number): number {
    return sequence.contextSize - 1 - promptLength;
  }

  /**
   * Generates on `sequence` after `prompt`. Keeps the longest prefix of the
   * sequence's KV cache that the prompt shares and evaluates only the rest
   * (at least the last prompt token, whose logits give the first answer token).
   */
  async generate(
    sequence: LlamaContextSequence,
    prompt: Token[],
    options: LockstepOptions = {},
  ): Promise<LockstepResult> {
    if (this.#disposed) throw new Error('The lock-step batcher is disposed');
    if (sequence.context !== this.context) throw new Error('The sequence belongs to another context');
    if (prompt.length === 0) throw new Error('The prompt is empty');
    if ([...this.#active].some((g) => g.sequence === sequence)) throw new Error('The sequence is already generating');
    const room = this.roomFor(sequence, prompt.length);
    const maxTokens = options.maxTokens ?? room;
    if (maxTokens < 1) throw new RangeError(`maxTokens must be at least 1, got ${maxTokens}`);
    if (room < 1 || maxTokens > room) {
      throw new ContextOverflowError(
        `A prompt of ${prompt.length} tokens and ${maxTokens} tokens to generate do not fit a context of ${sequence.contextSize} tokens`,
      );
    }
    options.signal?.throwIfAborted();
    await sequence.adaptStateToTokens(prompt.slice(0, -1), false);
    const reused = sequence.nextTokenIndex;
    const generation: Omit<Generation, 'resolve' | 'reject'> = {
      sequence,
      input: prompt.slice(reused),
      options,
      filter: new OutputFilter(sequence.model, { stops: options.stops, hidden: options.hidden }),
      tokens: [],
      sampled: [],
      maxTokens,
      promptTokens: prompt.length,
      evaluatedPromptTokens: prompt.length - reused,
    };
    return new Promise<LockstepResult>((resolve, reject) => {
      const g: Generation = { ...generation, resolve, reject };
      if (this.#disposed) return reject(new Error('The lock-step batcher is disposed'));
      if (options.signal?.aborted) return this.#finish(g, 'abort');
      this.#active.add(g);
      this.#run();
    });
  }

  /** Rejects the active generations and refuses new ones (the context is about to be disposed). */
  dispose(): void {
    this.#disposed = true;
    for (const g of this.#active) g.reject(new Error('The lock-step batcher was disposed'));
    this.#active.clear();
  }

  #run(): void {
    if (this.#running) return;
    this.#running = true;
    void (async () => {
      try {
        while (this.#active.size > 0) {
          // Let the context's dispatcher finish the last batch first, so that the whole step lands in one batch.
          await new Promise<void>((resolve) => setImmediate(resolve));
          const step = this.#plan();
          if (step.length === 0) continue;
          this.#stats.steps++;
          this.#stats.evaluations += step.length;
          await Promise.all(step.map(([g, take]) => this.#step(g, take)));
        }
      } finally {
        this.#running = false;
      }
    })();
  }

  /**
   * What each active generation evaluates this step: its next token, or the next piece of its prompt, in
   * arrival order until the batch is full (a prompt that gets no room waits for the next step). Sorted by
   * sequence id: llama.cpp decodes a multi-sequence batch in one pass only in ascending order.
   */
  #plan(): [Generation, number][] {
    const waiting = [...this.#active].filter((g) => {
      if (g.options.signal?.aborted) this.#finish(g, 'abort');
      return this.#active.has(g);
    });
    let room = this.context.batchSize - waiting.filter((g) => g.input.length === 1).length;
    const step: [Generation, number][] = [];
    for (const g of waiting) {
      if (g.input.length === 1 || this.#prefillChunk === false) {
        step.push([g, g.input.length]);
        continue;
      }
      const take = Math.min(g.input.length, this.#prefillChunk, room);
      if (take < 1) continue;
      room -= take;
      step.push([g, take]);
    }
    return step.sort(([a], [b]) => sequenceOrder(a.sequence) - sequenceOrder(b.sequence));
  }

  async #step(g: Generation, take: number): Promise<void> {
    if (g.options.signal?.aborted) return this.#finish(g, 'abort');
    const last = g.input.length - 1;
    if (take <= last) {
      this.#stats.promptChunks++;
      try {
        await g.sequence.controlledEvaluate(g.input.slice(0, take));
        g.input = g.input.slice(take);
      } catch (err) {
        if (this.#active.delete(g)) g.reject(err);
      }
      return;
    }
    const { logprobs } = g.options;
    const report = logprobs === undefined ? {} : logprobs > 0 ? { probabilities: true } : { confidence: true };
    const items: ControlledEvaluateInputItem[] = g.input.map((token, i) =>
      i === last ? [token, { generateNext: { token: true, ...report, options: this.#sampling(g) } }] : token,
    );
    try {
      const results = await g.sequence.controlledEvaluate(items);
      if (!this.#active.has(g)) return;
      const next = results[last]?.next;
      const token = next?.token;
      if (token == null) throw new Error('The model sampled no token');
      g.tokens.push(token);
      if (logprobs !== undefined) {
        const probabilities = next!.probabilities;
        g.sampled.push({
          token,
          probability: probabilities?.get(token) ?? next!.confidence ?? 0,
          top: probabilities && [...probabilities.entries()].slice(0, logprobs),
        });
      }
      this.#emit(g, g.filter.push(token));
      if (g.filter.stopped) return this.#finish(g, g.filter.stopped);
      if (g.tokens.length >= g.maxTokens) return this.#finish(g, 'maxTokens');
      if (g.options.signal?.aborted) return this.#finish(g, 'abort');
      g.input = [token];
    } catch (err) {
      if (this.#active.delete(g)) g.reject(err);
    }
  }

  #finish(g: Generation, stopReason: LockstepStopReason): void {
    this.#active.delete(g);
    this.#emit(g, g.filter.flush());
    g.resolve({
      text: g.filter.text,
      stopReason,
      promptTokens: g.promptTokens,
      evaluatedPromptTokens: g.evaluatedPromptTokens,
      completionTokens: g.filter.answerTokens,
    });
  }

  /** Passes on released text, with the log-probabilities of the tokens it released when they are asked for. */
  #emit(g: Generation, text: string): void {
    if (g.options.logprobs === undefined) {
      if (text) g.options.onTextChunk?.(text);
      return;
    }
    const released = g.filter.takeReleased();
    if (!text && released.length === 0) return;
    const model = g.sequence.model;
    const logprobs = released.map((i) => tokenLogprob(model, g.sampled[i]!, g.tokens.slice(Math.max(0, i - 3), i)));
    g.options.onTextChunk?.(text, logprobs);
  }

  #sampling(g: Generation) {
    const {
      temperature = 0,
      topP,
      topK,
      minP,
      seed,
      presencePenalty,
      frequencyPenalty,
      repeatPenalty,
      tokenBias,
    } = g.options;
    const nl = g.sequence.model.tokens.nl;
    return {
      temperature,
      topP,
      topK,
      minP,
      // controlledEvaluate samples with a new sampler each call: vary the seed per token, or every token gets the same draw.
      seed: temperature > 0 ? stepSeed(seed, g.tokens.length) : undefined,
      repeatPenalty:
        presencePenalty || frequencyPenalty || (repeatPenalty !== undefined && repeatPenalty !== 1)
          ? {
              punishTokens: g.tokens.slice(-PENALTY_LAST_TOKENS).filter((t) => t !== nl),
              maxPunishTokens: PENALTY_LAST_TOKENS,
              penalty: repeatPenalty,
              presencePenalty,
              frequencyPenalty,
            }
          : undefined,
      tokenBias,
    };
  }
}

// node-llama-cpp keeps a sequence's id internal; without it the order of arrival stands.
function sequenceOrder(sequence: LlamaContextSequence): number {
  const id = (sequence as unknown as { _sequenceId?: unknown })._sequenceId;
  return typeof id === 'number' ? id : 0;
}

/** A 32-bit seed for the token at `index`: derived from `seed` (repeatable), else random. */
function stepSeed(seed: number | undefined, index: number): number {
  if (seed === undefined) return Math.floor(Math.random() * 2 ** 32);
  let h = Math.imul((seed | 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}
