import {
  isLlamaText,
  resolveChatWrapper,
  type ChatHistoryItem,
  type ChatModelFunctions,
  type ChatWrapper,
  type LlamaModel,
  type LlamaText,
  type Token,
} from 'node-llama-cpp';
import type { HiddenSegment } from './output-filter.ts';

/** A chat rendered for generation: the prompt tokens and what the chat wrapper says ends or hides output. */
export interface ChatPrompt {
  tokens: Token[];
  /** The chat wrapper's stop triggers (e.g. `<|im_end|>` for ChatML). */
  stops: LlamaText[];
  /** The chat wrapper's segments (thoughts) that are not part of the answer. */
  hidden: HiddenSegment[];
}

const wrappers = new WeakMap<LlamaModel, ChatWrapper>();

/** The model's chat wrapper, as LlamaChat's `chatWrapper: "auto"` resolves it (once per model). */
export function chatWrapperOf(model: LlamaModel): ChatWrapper {
  let wrapper = wrappers.get(model);
  if (!wrapper) wrappers.set(model, (wrapper = resolveChatWrapper(model)));
  return wrapper;
}

/**
 * Renders a chat history that ends with the model response to generate
 * into prompt tokens, with the model's chat wrapper, as node-llama-cpp's
 * LlamaChat does when the history fits the context (its `chatWrapper:
 * "auto"`, `generateContextState`, `contextText.tokenize`). Null when the
 * wrapper needs what only LlamaChat handles: prefix triggers, rerenders,
 * initially engaged function calls, segments opened on response start.
 */
export function renderChatPrompt(model: LlamaModel, history: readonly ChatHistoryItem[]): ChatPrompt | null {
  const wrapper = chatWrapperOf(model);
  const state = wrapper.generateContextState({ chatHistory: history });
  if (
    state.prefixTriggers?.length ||
    state.noPrefixTrigger ||
    state.rerender ||
    state.ignoreStartText?.length ||
    state.functionCall?.initiallyEngaged
  ) {
    return null;
  }
  const segments = wrapper.settings.segments;
  if (segments?.closeAllSegments || segments?.thought?.openOnResponseStart) return null;
  const hidden: HiddenSegment[] = [];
  for (const segment of [segments?.thought, segments?.comment]) {
    if (!segment) continue;
    if (typeof segment.prefix !== 'string' && !isLlamaText(segment.prefix)) return null; // opened on start
    hidden.push({ prefix: segment.prefix, suffix: segment.suffix });
  }
  return { tokens: state.contextText.tokenize(model.tokenizer), stops: state.stopGenerationTriggers, hidden };
}

/**
 * The length in tokens of the prompt LlamaChat renders for `history` (with
 * the `functions` documented in it); undefined when the wrapper cannot say.
 */
export function promptLength(
  model: LlamaModel,
  history: readonly ChatHistoryItem[],
  functions?: ChatModelFunctions,
): number | undefined {
  try {
    const state = chatWrapperOf(model).generateContextState({ chatHistory: history, availableFunctions: functions });
    return state.contextText.tokenize(model.tokenizer).length;
  } catch {
    return undefined;
  }
}
