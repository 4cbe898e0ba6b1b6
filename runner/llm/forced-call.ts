import type { ChatWrapper } from 'node-llama-cpp';

const forced = new WeakMap<ChatWrapper, ChatWrapper>();

/**
 * The chat wrapper `base` with its answer opened as a function call, for
 * `tool_choice: "required"` (or a named tool): every context it renders has
 * the function-calling mode initially engaged with nothing that disengages
 * it, so LlamaChat starts the response in its function-name grammar (after
 * the wrapper's call prefix) and the model cannot answer in text instead.
 * The rest of the wrapper (settings, call and result rendering) is `base`'s.
 */
export function forcedCallWrapper(base: ChatWrapper): ChatWrapper {
  let wrapper = forced.get(base);
  if (wrapper) return wrapper;
  wrapper = Object.create(base) as ChatWrapper;
  wrapper.generateContextState = (options) => {
    const { contextText, stopGenerationTriggers } = base.generateContextState(options);
    return {
      contextText,
      stopGenerationTriggers,
      functionCall: { initiallyEngaged: true, disengageInitiallyEngaged: [] },
    };
  };
  forced.set(base, wrapper);
  return wrapper;
}
