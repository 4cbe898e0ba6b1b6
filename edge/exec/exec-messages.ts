import { AppError } from '../../shared/errors.ts';
import type { ChatMessage } from '../../shared/schemas/chat.ts';
import type { ExecMessage, LlmConfig } from '../../shared/schemas/exec.ts';

/** What `llmConfig.verbosity` adds to the system prompt (OpenAI's GPT-5 `verbosity`, as an instruction elsewhere). */
const VERBOSITY: Record<string, string> = {
  low: 'Answer as briefly as the question allows.',
  high: 'Answer thoroughly, with detail and examples.',
};

/** The model's text for a tool's result: the text itself, else its JSON. */
export function resultText(result: unknown): string {
  if (typeof result === 'string') return result;
  return JSON.stringify(result) ?? 'null';
}

/**
 * The document's messages → the chat messages engines and providers take: `tool_request` (or `assistant`
 * with `tool_calls`) becomes an assistant message with OpenAI tool calls, `tool_response` a `tool`
 * message; `instructions` and `llmConfig.verbosity` join the system prompt. `reasoning` is kept in threads
 * but not sent back to models.
 */
export function toChatMessages(
  messages: readonly ExecMessage[],
  { instructions, verbosity }: { instructions?: string; verbosity?: LlmConfig['verbosity'] } = {},
): ChatMessage[] {
  const system: string[] = [];
  const chat: ChatMessage[] = [];
  messages.forEach((m, i) => {
    switch (m.role) {
      case 'system':
      case 'developer':
        if (m.content) system.push(m.content);
        return;
      case 'user':
        // A message that only carries approval answers is no turn of the conversation.
        if (!m.content && m.approvals?.length) return;
        chat.push({ role: 'user', content: m.content ?? '', ...(m.name ? { name: m.name } : {}) });
        return;
      case 'assistant':
      case 'tool_request':
        chat.push({
          role: 'assistant',
          content: m.content ?? null,
          ...(m.tool_calls?.length
            ? {
                tool_calls: m.tool_calls.map((call) => ({
                  id: call.id,
                  type: 'function' as const,
                  function: {
                    name: call.name,
                    arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments),
                  },
                })),
              }
            : {}),
        });
        return;
      case 'tool_response':
      case 'tool':
        if (!m.tool_call_id) {
          throw new AppError(400, `messages.${i}.tool_call_id: required on a ${m.role} message`, {
            param: `messages.${i}.tool_call_id`,
          });
        }
        chat.push({ role: 'tool', tool_call_id: m.tool_call_id, content: m.content ?? '' });
        return;
    }
  });
  if (instructions) system.push(instructions);
  if (verbosity && VERBOSITY[verbosity]) system.push(VERBOSITY[verbosity]);
  return system.length ? [{ role: 'system', content: system.join('\n\n') }, ...chat] : chat;
}

/** A call as the document writes it: arguments as an object (a model's unparsable text is kept under `_raw`). */
export function documentArguments(raw: string | Record<string, unknown>): Record<string, unknown> {
  if (typeof raw !== 'string') return raw;
  try {
    const parsed: unknown = raw.trim() ? JSON.parse(raw) : {};
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : { _raw: raw };
  } catch {
    return { _raw: raw };
  }
}
