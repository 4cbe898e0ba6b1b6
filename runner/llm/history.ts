import type { ChatHistoryItem, ChatModelFunctionCall, ChatModelFunctions, ChatModelResponse } from 'node-llama-cpp';
import { AppError } from '../../shared/errors.ts';
import { contentText, type ChatMessage, type FunctionTool } from '../../shared/schemas/chat.ts';

/**
 * OpenAI messages → node-llama-cpp chat history, ending with the model
 * response to generate into. Tool results attach to the call they answer.
 */
export function toChatHistory(messages: ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  const calls = new Map<string, ChatModelFunctionCall>();
  messages.forEach((m, i) => {
    const text = contentText(m.content);
    if (m.role === 'system' || m.role === 'developer') history.push({ type: 'system', text });
    else if (m.role === 'user') history.push({ type: 'user', text });
    else if (m.role === 'assistant' || m.role === 'ai') {
      const response: ChatModelResponse['response'] = text ? [text] : [];
      for (const call of m.tool_calls ?? []) {
        const item: ChatModelFunctionCall = {
          type: 'functionCall',
          name: call.function.name,
          params: parseArguments(call.function.arguments, `messages.${i}.tool_calls`),
          result: undefined,
        };
        calls.set(call.id, item);
        response.push(item);
      }
      history.push({ type: 'model', response });
    } else {
      const call = m.tool_call_id ? calls.get(m.tool_call_id) : undefined;
      if (!call) {
        throw new AppError(400, `messages.${i}.tool_call_id: no earlier assistant tool call has this id`, {
          param: `messages.${i}.tool_call_id`,
        });
      }
      call.result = text;
    }
  });
  const last = history.at(-1);
  const answered =
    last?.type === 'model' && last.response.some((r) => typeof r === 'object' && r.type === 'functionCall');
  if (!answered) history.push({ type: 'model', response: [] });
  return history;
}

function parseArguments(raw: string, param: string): unknown {
  try {
    return raw ? JSON.parse(raw) : {};
  } catch {
    throw new AppError(400, `${param}: function.arguments must be a JSON string`, { param });
  }
}

/** OpenAI tools → node-llama-cpp functions (the model may call them; we never run them here). */
export function toFunctions(tools: FunctionTool[]): ChatModelFunctions {
  return Object.fromEntries(
    tools.map(({ function: f }) => [
      f.name,
      { description: f.description, params: (f.parameters ?? { type: 'object', properties: {} }) as never },
    ]),
  ) as ChatModelFunctions;
}
