import type { ChatEvent, FinishReason, ToolCall, Usage } from '../../shared/schemas/chat.ts';

export interface CompletionMeta {
  id: string;
  model: string;
  created: number;
  includeUsage?: boolean;
}

const EMPTY_USAGE: Usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };

/** Engine events → OpenAI `chat.completion.chunk` objects (role first, finish_reason last, optional usage chunk). */
export async function* toCompletionChunks(events: AsyncIterable<ChatEvent>, meta: CompletionMeta) {
  const base = { id: meta.id, object: 'chat.completion.chunk' as const, created: meta.created, model: meta.model };
  const chunk = (delta: Record<string, unknown>, finish_reason: FinishReason | null = null) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason }],
  });
  yield chunk({ role: 'assistant', content: '' });
  let toolIndex = 0;
  for await (const event of events) {
    if (event.type === 'text') {
      if (event.text) yield chunk({ content: event.text });
    } else if (event.type === 'tool_call') {
      yield chunk({ tool_calls: [{ index: toolIndex++, ...event.call }] });
    } else {
      yield chunk({}, event.finishReason);
      if (meta.includeUsage) yield { ...base, choices: [], usage: event.usage };
    }
  }
}

/** Engine events → one OpenAI `chat.completion` object. */
export async function collectCompletion(events: AsyncIterable<ChatEvent>, meta: CompletionMeta) {
  let content = '';
  const toolCalls: ToolCall[] = [];
  let finishReason: FinishReason = 'stop';
  let usage = EMPTY_USAGE;
  for await (const event of events) {
    if (event.type === 'text') content += event.text;
    else if (event.type === 'tool_call') toolCalls.push(event.call);
    else {
      finishReason = event.finishReason;
      usage = event.usage;
    }
  }
  return {
    id: meta.id,
    object: 'chat.completion' as const,
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant' as const,
          content: toolCalls.length && !content ? null : content,
          ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
          refusal: null,
        },
        logprobs: null,
        finish_reason: finishReason,
      },
    ],
    usage,
  };
}

/** Engine events → OpenAI legacy `text_completion` stream objects (text deltas, finish_reason last, optional usage). */
export async function* toTextCompletionChunks(
  events: AsyncIterable<ChatEvent>,
  meta: CompletionMeta & { echo?: string },
) {
  const base = { id: meta.id, object: 'text_completion' as const, created: meta.created, model: meta.model };
  const chunk = (text: string, finish_reason: FinishReason | null = null) => ({
    ...base,
    choices: [{ index: 0, text, logprobs: null, finish_reason }],
  });
  if (meta.echo) yield chunk(meta.echo);
  for await (const event of events) {
    if (event.type === 'text') {
      if (event.text) yield chunk(event.text);
    } else if (event.type === 'done') {
      yield chunk('', event.finishReason);
      if (meta.includeUsage) yield { ...base, choices: [], usage: event.usage };
    }
  }
}

/** Engine events → one OpenAI legacy `text_completion` object. */
export async function collectTextCompletion(
  events: AsyncIterable<ChatEvent>,
  meta: CompletionMeta & { echo?: string },
) {
  let text = meta.echo ?? '';
  let finishReason: FinishReason = 'stop';
  let usage = EMPTY_USAGE;
  for await (const event of events) {
    if (event.type === 'text') text += event.text;
    else if (event.type === 'done') {
      finishReason = event.finishReason;
      usage = event.usage;
    }
  }
  return {
    id: meta.id,
    object: 'text_completion' as const,
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason }],
    usage,
  };
}
