import type { ChatMessage, ChatEvent, ToolCall } from '../../shared/schemas/chat.ts';

const isSystem = (m: ChatMessage) => m.role === 'system' || m.role === 'developer';
const same = (a: ChatMessage, b: ChatMessage) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The conversation a request continues. A client that sends its whole
 * history (any assistant turn, or several messages) is taken as it is, as
 * OpenAI's API does; a client that sends only its new message continues the
 * session's stored conversation, as the document's API does. A system
 * message (or the `system` field) replaces the earlier one.
 */
export function continueConversation(stored: ChatMessage[], incoming: ChatMessage[], system?: string): ChatMessage[] {
  const turns = incoming.filter((m) => !isSystem(m));
  const storedTurns = stored.filter((m) => !isSystem(m));
  const restart = storedTurns.length > 0 && turns.length === 1 && same(storedTurns[0]!, turns[0]!);
  const selfContained = turns.length !== 1 || turns[0]!.role !== 'user' || restart;
  const conversation = selfContained ? turns : [...storedTurns, ...turns];
  const latestSystem =
    system !== undefined
      ? { role: 'system' as const, content: system }
      : (incoming.filter(isSystem).at(-1) ?? (selfContained ? undefined : stored.filter(isSystem).at(-1)));
  return latestSystem ? [latestSystem, ...conversation] : conversation;
}

/**
 * Passes engine events through and hands the assistant's answer (partial if stopped or cut) to
 * `save` at the end, before the stream completes: a failed save fails the response (a 5xx, or an
 * error event instead of `[DONE]`) rather than answering for a turn that was not kept.
 */
export async function* recordAnswer(
  events: AsyncIterable<ChatEvent>,
  save: (answer: ChatMessage) => Promise<void>,
): AsyncGenerator<ChatEvent> {
  let content = '';
  const toolCalls: ToolCall[] = [];
  try {
    for await (const event of events) {
      if (event.type === 'text') content += event.text;
      else if (event.type === 'tool_call') toolCalls.push(event.call);
      yield event;
    }
  } finally {
    await save({ role: 'assistant', content, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) });
  }
}
