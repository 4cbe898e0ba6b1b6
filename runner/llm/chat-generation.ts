import {
  LlamaChat,
  type ChatHistoryItem,
  type ChatModelFunctions,
  type LlamaGrammar,
  type LlamaModel,
} from 'node-llama-cpp';
import { AsyncQueue } from '../../shared/async-queue.ts';
import { AppError } from '../../shared/errors.ts';
import { randomAlphanumeric } from '../../shared/ids.ts';
import type { ChatEvent, ChatRequest, FinishReason, TokenLogprob } from '../../shared/schemas/chat.ts';
import { chatWrapperOf, promptLength, renderChatPrompt, type ChatPrompt } from './chat-prompt.ts';
import { forcedCallWrapper } from './forced-call.ts';
import { llamaChatPenalty, samplerOptions } from './sampler-options.ts';
import { toChatHistory, toFunctions } from './history.ts';
import { llamaRuntime } from './llama-runtime.ts';
import type { ChatModel } from './llm-models.ts';
import type { Slot } from './sequence-slots.ts';

const DEFAULT_SYSTEM = 'You are a helpful assistant.';

/** What a chat request turns into before a sequence is lent. */
export interface ChatPlan {
  history: ChatHistoryItem[];
  functions: ReturnType<typeof offeredFunctions>;
  grammar: LlamaGrammar | undefined;
}

/**
 * Converts a request's history, tools and response format (both at once: the
 * model may call a tool, and a text answer follows the format); everything that
 * can be a 400 (tool results, call arguments, tool_choice, schema) fails
 * here, before a sequence is lent.
 */
export async function planChat(request: ChatRequest): Promise<ChatPlan> {
  if (
    request.logprobs !== undefined &&
    (request.tools?.length || (request.responseFormat ?? { type: 'text' }).type !== 'text')
  ) {
    throw logprobsUnavailable('tools or a response_format');
  }
  return {
    history: systemFirst(toChatHistory(request.messages)),
    functions: offeredFunctions(request),
    grammar: await grammarFor(request),
  };
}

/**
 * Generates the answer on the lent `slot`: plain-text answers that fit the
 * context on the lock-step batcher, the rest through LlamaChat. `onEnd`
 * runs once when the generation is over, whatever its outcome. At most
 * `maxTokens` (the server's ceiling, LLM_MAX_TOKENS) are generated; without
 * `max_tokens` in the request, at most the room the prompt leaves in the
 * context (never unbounded, even where LlamaChat could shift the context).
 */
export function generateChat(
  chat: ChatModel,
  slot: Slot,
  request: ChatRequest,
  { history, functions, grammar }: ChatPlan,
  { signal, onEnd, maxTokens: ceiling = Infinity }: { signal?: AbortSignal; onEnd: () => void; maxTokens?: number },
): AsyncIterable<ChatEvent> {
  const sampler = samplerOptions(chat.model, request);
  const stop = slot.stop!;
  const queue = new AsyncQueue<ChatEvent>(() => stop.abort());
  const abort = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  const onTextChunk = (text: string, logprobs?: TokenLogprob[]) =>
    queue.push({ type: 'text', text, ...(logprobs && { logprobs }) });
  const prompt = request.tools?.length || grammar ? null : lockstepPrompt(chat.model, history);
  const room = prompt ? chat.batcher.roomFor(slot.sequence, prompt.tokens.length) : 0;
  const batcher = prompt && room >= (request.maxTokens ?? 1) ? chat.batcher : null;
  if (!batcher && request.logprobs !== undefined) throw logprobsUnavailable('a prompt too long for its context');
  // tool_choice "required" or a named tool: the answer must open with a call.
  const mustCall = functions && (request.toolChoice === 'required' || typeof request.toolChoice === 'object');
  const llamaChat = batcher
    ? null
    : new LlamaChat({
        contextSequence: slot.sequence,
        autoDisposeSequence: false,
        chatWrapper: mustCall ? forcedCallWrapper(chatWrapperOf(chat.model)) : 'auto',
      });
  let completionTokens = 0;
  let promptTokens: number | undefined;
  let cachedTokens: number | undefined;
  const maxTokens = Math.max(
    1,
    Math.min(
      ceiling,
      request.maxTokens ??
        (batcher
          ? room
          : (roomLeft(chat.model, slot.sequence.contextSize, history, functions) ?? slot.sequence.contextSize)),
    ),
  );
  const { temperature, topP, topK, minP, seed, tokenBias } = sampler;
  const common = {
    maxTokens,
    temperature,
    topP,
    topK,
    minP,
    seed,
    signal: abort,
    stopOnAbortSignal: true,
    customStopTriggers: request.stop,
    repeatPenalty: llamaChatPenalty(sampler),
    tokenBias,
    onTextChunk,
    onToken: (tokens: readonly unknown[]) => void (completionTokens += tokens.length),
  };
  const run = batcher
    ? batcher
        .generate(slot.sequence, prompt!.tokens, {
          ...sampler,
          maxTokens,
          stops: [...(request.stop ?? []), ...prompt!.stops],
          hidden: prompt!.hidden,
          signal: abort,
          onTextChunk,
        })
        .then((result) => {
          completionTokens = result.completionTokens;
          promptTokens = result.promptTokens;
          cachedTokens = result.promptTokens - result.evaluatedPromptTokens;
          return { metadata: { stopReason: result.stopReason }, functionCalls: undefined };
        })
    : functions
      ? callsOrFormatted(
          llamaChat!,
          history,
          common,
          { functions, maxParallelFunctionCalls: request.parallelToolCalls === false ? 1 : undefined },
          grammar,
        )
      : llamaChat!.generateResponse(history, { ...common, grammar });
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
          ...(cachedTokens !== undefined && { prompt_tokens_details: { cached_tokens: cachedTokens } }),
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
      } else queue.fail(chat.slots.closed ?? err);
    })
    .finally(() => {
      llamaChat?.dispose({ disposeSequence: false });
      onEnd();
    });
  return queue;
}

/** LlamaChat's options that are neither a grammar nor functions. */
type ResponseOptions = Omit<
  NonNullable<Parameters<LlamaChat['generateResponse']>[1]>,
  | 'grammar'
  | 'functions'
  | 'documentFunctionParams'
  | 'maxParallelFunctionCalls'
  | 'onFunctionCall'
  | 'onFunctionCallParamsChunk'
> & { signal: AbortSignal };

/**
 * Tools and a response format together. node-llama-cpp takes functions or a grammar, not both, so: the
 * model answers with its functions offered; once it writes text rather than a call (its first text that
 * is not blank, not passed on), that pass stops and the answer is generated again under the format's
 * grammar, from a history that documents the same functions (with wrappers that document them in the
 * system message, as ChatML's does, the prompt and so its KV cache stay the same).
 */
async function callsOrFormatted(
  llamaChat: LlamaChat,
  history: ChatHistoryItem[],
  common: ResponseOptions,
  calling: { functions: ChatModelFunctions; maxParallelFunctionCalls?: number },
  grammar: LlamaGrammar | undefined,
) {
  if (!grammar) return llamaChat.generateResponse(history, { ...common, ...calling });
  const wroteText = new AbortController();
  const calls = await llamaChat.generateResponse(history, {
    ...common,
    ...calling,
    signal: AbortSignal.any([common.signal, wroteText.signal]),
    onTextChunk: (text) => void (text.trim() && wroteText.abort()),
  });
  if (!wroteText.signal.aborted || common.signal.aborted) return calls;
  const documented = llamaChat.chatWrapper.addAvailableFunctionsSystemMessageToHistory(history, calling.functions, {
    documentParams: true,
  });
  return llamaChat.generateResponse([...documented], { ...common, grammar });
}

/** Log-probabilities come from the lock-step batcher; LlamaChat (tools, grammars, context shifts) does not report them. */
function logprobsUnavailable(what: string): AppError {
  return new AppError(400, `logprobs: token log-probabilities are not reported for answers with ${what}`, {
    param: 'logprobs',
  });
}

async function grammarFor(request: ChatRequest): Promise<LlamaGrammar | undefined> {
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

/** Tokens the rendered prompt leaves free in a context of `contextSize`; undefined when it cannot be told. */
function roomLeft(
  model: LlamaModel,
  contextSize: number,
  history: ChatHistoryItem[],
  functions: ChatPlan['functions'],
): number | undefined {
  const length = promptLength(model, history, functions);
  if (length === undefined) return undefined;
  // A prompt that does not fit leaves LlamaChat to shift the context: still at most one context's worth.
  return length < contextSize ? contextSize - length : contextSize;
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
