/** One OpenAI `chat.completion.chunk`, as a fake upstream sends it. */
export const chunk = (delta: Record<string, unknown>, finish_reason: string | null = null) => ({
  id: 'chatcmpl-x',
  object: 'chat.completion.chunk',
  choices: [{ index: 0, delta, finish_reason }],
});

/** A whole upstream stream answering "Hello there", with usage and `[DONE]`. */
export const HELLO_STREAM = [
  chunk({ role: 'assistant', content: '' }),
  chunk({ content: 'Hello' }),
  chunk({ content: ' there' }),
  chunk({}, 'stop'),
  { id: 'chatcmpl-x', choices: [], usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } },
  '[DONE]',
];
