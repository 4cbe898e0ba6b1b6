import { LlamaText, SpecialTokensText, type LlamaModel, type Token } from 'node-llama-cpp';
import { AsyncQueue } from '../../shared/async-queue.ts';
import { AppError } from '../../shared/errors.ts';
import type { ChatEvent } from '../../shared/schemas/chat.ts';
import type { CompletionRequest } from '../../shared/schemas/completions.ts';
import type { ChatModel } from './llm-models.ts';
import { samplerOptions } from './sampler-options.ts';
import type { Slot } from './sequence-slots.ts';

/** OpenAI's default `max_tokens` for text completions. */
const DEFAULT_COMPLETION_TOKENS = 16;

/**
 * Completes `request.prompt` (or fills the gap between it and
 * `request.suffix`) on the lent `slot`, on the lock-step batcher: the same
 * batching, sampling and KV-cache reuse as chat (an editor that sends the
 * same file again evaluates only what changed). At most `max_tokens`
 * (default 16) and the server's ceiling; a prompt that leaves no room for
 * them is a 400 (a fill-in-the-middle is trimmed to fit instead: the
 * prefix's end and the suffix's start are kept, as llama-server does).
 * `onEnd` runs once when it is over, whatever its outcome.
 */
export function generateCompletion(
  chat: ChatModel,
  slot: Slot,
  request: CompletionRequest,
  { signal, onEnd, maxTokens: ceiling = Infinity }: { signal?: AbortSignal; onEnd: () => void; maxTokens?: number },
): AsyncIterable<ChatEvent> {
  const sampler = samplerOptions(chat.model, request);
  const maxTokens = Math.min(ceiling, request.maxTokens ?? DEFAULT_COMPLETION_TOKENS);
  const contextSize = slot.sequence.contextSize;
  const tokens = completionTokens(chat.model, request, contextSize - 1 - maxTokens);
  if (chat.batcher.roomFor(slot.sequence, tokens.length) < maxTokens) {
    throw new AppError(
      400,
      `max_tokens: a prompt of ${tokens.length} tokens and ${maxTokens} tokens to generate do not fit the context of ${contextSize} tokens`,
      { param: 'max_tokens', code: 'context_length_exceeded' },
    );
  }
  const stop = slot.stop!;
  const queue = new AsyncQueue<ChatEvent>(() => stop.abort());
  const abort = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  chat.batcher
    .generate(slot.sequence, tokens, {
      ...sampler,
      maxTokens,
      stops: [...(request.stop ?? []), ...infillStops(chat.model, request)],
      signal: abort,
      onTextChunk: (text, logprobs) => queue.push({ type: 'text', text, ...(logprobs && { logprobs }) }),
    })
    .then((result) => {
      const written = result.completionTokens;
      queue.push({
        type: 'done',
        finishReason: result.stopReason === 'maxTokens' ? 'length' : 'stop',
        usage: {
          prompt_tokens: result.promptTokens,
          completion_tokens: written,
          total_tokens: result.promptTokens + written,
          prompt_tokens_details: { cached_tokens: result.promptTokens - result.evaluatedPromptTokens },
        },
      });
      queue.end();
    })
    .catch((err: unknown) => queue.fail(chat.slots.closed ?? err))
    .finally(onEnd);
  return queue;
}

/**
 * The prompt's tokens: the model's BOS when it wants one, then the prompt with the special tokens written in
 * it read as such. With a suffix, the model's fill-in-the-middle layout (prefix, suffix, middle), trimmed to
 * `budget` tokens: the suffix keeps at least a quarter of the room, the prefix its end (next to the gap).
 */
export function completionTokens(model: LlamaModel, request: CompletionRequest, budget: number): Token[] {
  const bos = model.tokens.shouldPrependBosToken ? model.tokens.bos : null;
  if (request.suffix === undefined) {
    const tokens = model.tokenize(request.prompt, true);
    return bos != null && tokens[0] !== bos ? [bos, ...tokens] : tokens;
  }
  const { prefix: pre, suffix: suf, middle: mid } = model.tokens.infill;
  if (pre == null || suf == null) {
    throw new AppError(400, `suffix: ${request.model} has no fill-in-the-middle tokens`, { param: 'suffix' });
  }
  const left = budget - 2 - (mid != null ? 1 : 0) - (bos != null ? 1 : 0);
  if (left < 1) {
    throw new AppError(400, 'max_tokens: leaves no room in the context for the prompt', { param: 'max_tokens' });
  }
  const prefix = model.tokenize(request.prompt, false, 'trimLeadingSpace');
  const suffix = model.tokenize(request.suffix, false, 'trimLeadingSpace');
  const suffixTake = Math.min(suffix.length, Math.max(left - prefix.length, Math.floor(left / 4)));
  const prefixTake = Math.min(prefix.length, left - suffixTake);
  const before = prefix.slice(prefix.length - prefixTake);
  const after = suffix.slice(0, suffixTake);
  const start = bos != null ? [bos] : [];
  return mid != null ? [...start, pre, ...before, suf, ...after, mid] : [...start, suf, ...after, pre, ...before];
}

/** Gemma's FIM ends a completion with `<|file_separator|>`, which is not an end-of-generation token. */
function infillStops(model: LlamaModel, request: CompletionRequest): LlamaText[] {
  if (request.suffix === undefined) return [];
  const architecture = model.fileInfo.metadata.general?.architecture ?? '';
  return architecture.startsWith('gemma') ? [LlamaText(new SpecialTokensText('<|file_separator|>'))] : [];
}
