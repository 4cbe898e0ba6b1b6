import type { ChatEvent, FinishReason, TokenLogprob, ToolCall, Usage } from '../../shared/schemas/chat.ts';

export interface CompletionMeta {
  id: string;
  model: string;
  created: number;
  includeUsage?: boolean;
  /** The client asked for log-probabilities: `logprobs` is an object (else null). */
  logprobs?: boolean;
}

const EMPTY_USAGE: Usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };

/** Engine events → OpenAI `chat.completion.chunk` objects (role first, finish_reason last, optional usage chunk). */
export async function* toCompletionChunks(events: AsyncIterable<ChatEvent>, meta: CompletionMeta) {
  const base = { id: meta.id, object: 'chat.completion.chunk' as const, created: meta.created, model: meta.model };
  const chunk = (
    delta: Record<string, unknown>,
    finish_reason: FinishReason | null = null,
    logprobs: TokenLogprob[] | null = null,
  ) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: logprobs && { content: logprobs, refusal: null }, finish_reason }],
  });
  yield chunk({ role: 'assistant', content: '' });
  let toolIndex = 0;
  for await (const event of events) {
    if (event.type === 'text') {
      if (event.text || event.logprobs?.length) yield chunk({ content: event.text }, null, event.logprobs ?? null);
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
  const logprobs: TokenLogprob[] = [];
  const toolCalls: ToolCall[] = [];
  let finishReason: FinishReason = 'stop';
  let usage = EMPTY_USAGE;
  for await (const event of events) {
    if (event.type === 'text') {
      content += event.text;
      if (event.logprobs) logprobs.push(...event.logprobs);
    } else if (event.type === 'tool_call') toolCalls.push(event.call);
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
        logprobs: meta.logprobs ? { content: logprobs, refusal: null } : null,
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
  let offset = meta.echo?.length ?? 0;
  const chunk = (text: string, finish_reason: FinishReason | null = null, logprobs?: TokenLogprob[]) => ({
    ...base,
    choices: [{ index: 0, text, logprobs: logprobs ? legacyLogprobs(logprobs, offset) : null, finish_reason }],
  });
  if (meta.echo) yield chunk(meta.echo);
  for await (const event of events) {
    if (event.type === 'text') {
      if (event.text || event.logprobs?.length) yield chunk(event.text, null, event.logprobs);
      offset += event.text.length;
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
  const logprobs: TokenLogprob[] = [];
  let finishReason: FinishReason = 'stop';
  let usage = EMPTY_USAGE;
  for await (const event of events) {
    if (event.type === 'text') {
      text += event.text;
      if (event.logprobs) logprobs.push(...event.logprobs);
    } else if (event.type === 'done') {
      finishReason = event.finishReason;
      usage = event.usage;
    }
  }
  return {
    id: meta.id,
    object: 'text_completion' as const,
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        text,
        logprobs: meta.logprobs ? legacyLogprobs(logprobs, meta.echo?.length ?? 0) : null,
        finish_reason: finishReason,
      },
    ],
    usage,
  };
}

/** Token log-probabilities in the legacy completions shape; `start`: where the first token's text begins. */
function legacyLogprobs(tokens: TokenLogprob[], start: number) {
  const textOffset: number[] = [];
  let at = start;
  for (const t of tokens) {
    textOffset.push(at);
    at += t.token.length;
  }
  return {
    tokens: tokens.map((t) => t.token),
    token_logprobs: tokens.map((t) => t.logprob),
    top_logprobs: tokens.map((t) => Object.fromEntries(t.top_logprobs.map((a) => [a.token, a.logprob]))),
    text_offset: textOffset,
  };
}
