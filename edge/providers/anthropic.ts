import { AppError, invalidField } from '../../shared/errors.ts';
import {
  contentText,
  type ChatEvent,
  type ChatRequest,
  type FinishReason,
  type Usage,
} from '../../shared/schemas/chat.ts';
import type { ChatProvider, ProviderHttpOptions } from './provider.ts';
import { parseEvent, postForSSE, streamError, upstreamEndedEarly } from './upstream.ts';

export interface AnthropicOptions extends ProviderHttpOptions {
  apiKey: string;
  /** Display name; default `Anthropic`. */
  name?: string;
  /** Default `https://api.anthropic.com` (without `/v1`, as Anthropic's SDKs read `ANTHROPIC_BASE_URL`). */
  baseUrl?: string;
  /** `max_tokens` when the request sets none (Anthropic requires one); default 1024. */
  defaultMaxTokens?: number;
}

/** Anthropic's Messages API (`POST /v1/messages`, streaming). */
export class AnthropicProvider implements ChatProvider {
  readonly name: string;
  readonly #options: AnthropicOptions;

  constructor(options: AnthropicOptions) {
    this.name = options.name ?? 'Anthropic';
    this.#options = options;
  }

  async chat(request: ChatRequest, { signal }: { signal?: AbortSignal } = {}): Promise<AsyncIterable<ChatEvent>> {
    const { apiKey, baseUrl = 'https://api.anthropic.com', defaultMaxTokens, fetch, retry } = this.#options;
    const data = await postForSSE({
      name: this.name,
      url: `${baseUrl.replace(/\/+$/, '')}/v1/messages`,
      headers: { 'x-api-key': apiKey, 'anthropic-version': '2023-06-01' },
      body: toAnthropicRequest(request, { defaultMaxTokens }),
      signal,
      fetch,
      retry,
    });
    return anthropicEvents(data, { name: this.name, signal });
  }
}

type Block =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'tool_result'; tool_use_id: string; content: string };

interface Turn {
  role: 'user' | 'assistant';
  content: Block[];
}

function toolInput(args: string, field: string): Record<string, unknown> {
  if (!args.trim()) return {};
  let input: unknown;
  try {
    input = JSON.parse(args);
  } catch {
    throw invalidField(field, 'must be a JSON object');
  }
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw invalidField(field, 'must be a JSON object');
  return input as Record<string, unknown>;
}

function toToolChoice(
  choice: ChatRequest['toolChoice'],
  parallel: boolean | undefined,
): Record<string, unknown> | undefined {
  const single = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === 'none') return { type: 'none' };
  if (choice === 'auto') return { type: 'auto', ...single };
  if (choice === undefined) return parallel === false ? { type: 'auto', ...single } : undefined;
  if (choice === 'required') return { type: 'any', ...single };
  return { type: 'tool', name: choice.function.name, ...single };
}

/** Sampling parameters Anthropic has no equivalent for: a 400 naming each, unless at its no-op value. */
function refuseUnmapped(request: ChatRequest): void {
  const unmapped: [string, boolean][] = [
    ['min_p', !!request.minP],
    ['repeat_penalty', request.repeatPenalty !== undefined && request.repeatPenalty !== 1],
    ['logit_bias', Object.keys(request.logitBias ?? {}).length > 0],
    ['logprobs', request.logprobs !== undefined],
  ];
  for (const [param, set] of unmapped) {
    if (set) {
      throw new AppError(400, `${param}: is not supported for Anthropic models`, { code: 'unsupported_value', param });
    }
  }
}

/**
 * Our chat request → an Anthropic streaming Messages body: system messages
 * joined into `system`; consecutive same-role turns merged (Anthropic wants
 * alternation); assistant tool calls as `tool_use` blocks; tool messages as
 * `tool_result` blocks of a user turn. `seed` and the OpenAI penalties have no
 * Anthropic equivalent and are left out (as OpenAI's own SDKs send them at
 * 0); `min_p`, `repeat_penalty`, `logit_bias` and a JSON `response_format`
 * are a 400.
 */
export function toAnthropicRequest(
  request: ChatRequest,
  { defaultMaxTokens = 1024 }: { defaultMaxTokens?: number } = {},
): Record<string, unknown> {
  if (request.responseFormat && request.responseFormat.type !== 'text') {
    throw new AppError(400, `response_format: ${request.responseFormat.type} is not supported for Anthropic models`, {
      code: 'unsupported_value',
      param: 'response_format',
    });
  }
  refuseUnmapped(request);
  const system: string[] = [];
  const turns: Turn[] = [];
  const add = (role: Turn['role'], blocks: Block[]) => {
    if (blocks.length === 0) return;
    const last = turns.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else turns.push({ role, content: blocks });
  };
  request.messages.forEach((m, i) => {
    const text = contentText(m.content);
    if (m.role === 'system' || m.role === 'developer') {
      if (text) system.push(text);
    } else if (m.role === 'user') {
      add('user', text ? [{ type: 'text', text }] : []);
    } else if (m.role === 'tool') {
      if (!m.tool_call_id) throw invalidField(`messages.${i}.tool_call_id`, 'is required on tool messages');
      add('user', [{ type: 'tool_result', tool_use_id: m.tool_call_id, content: text }]);
    } else {
      const calls: Block[] = (m.tool_calls ?? []).map((call, j) => ({
        type: 'tool_use',
        id: call.id,
        name: call.function.name,
        input: toolInput(call.function.arguments, `messages.${i}.tool_calls.${j}.function.arguments`),
      }));
      add('assistant', [...(text ? [{ type: 'text' as const, text }] : []), ...calls]);
    }
  });
  const tools = request.tools?.length
    ? request.tools.map((t) => ({
        name: t.function.name,
        description: t.function.description,
        input_schema: t.function.parameters ?? { type: 'object', properties: {} },
      }))
    : undefined;
  return {
    model: request.model,
    max_tokens: request.maxTokens ?? defaultMaxTokens,
    system: system.length ? system.join('\n\n') : undefined,
    messages: turns,
    temperature: request.temperature,
    top_p: request.topP,
    top_k: request.topK,
    stop_sequences: request.stop?.length ? request.stop : undefined,
    tools,
    tool_choice: tools ? toToolChoice(request.toolChoice, request.parallelToolCalls) : undefined,
    stream: true,
  };
}

interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

interface StreamEvent {
  type: string;
  index?: number;
  message?: { usage?: AnthropicUsage };
  content_block?: { type: string; id?: string; name?: string; text?: string; input?: unknown };
  delta?: { type?: string; text?: string; partial_json?: string; stop_reason?: string | null };
  usage?: AnthropicUsage;
}

function toFinishReason(reason: string): FinishReason {
  if (reason === 'max_tokens' || reason === 'model_context_window_exceeded') return 'length';
  if (reason === 'tool_use') return 'tool_calls';
  return 'stop';
}

function inputTokens(u: AnthropicUsage): number {
  return (u.input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0);
}

/**
 * Anthropic Messages stream events (SSE `data`) → our events: text deltas at
 * once; each `tool_use` block yielded whole at its `content_block_stop` (its
 * `input_json_delta`s joined); `done` at `message_stop` with the stop reason
 * (`end_turn`/`stop_sequence` → stop, `max_tokens` → length, `tool_use` →
 * tool_calls) and usage (input tokens include cache reads and writes). An
 * `error` event fails the stream with an AppError; a stream cut before
 * `message_stop` fails with 502, unless `signal` was aborted: then it ends
 * with `done` (`stop`).
 */
export async function* anthropicEvents(
  data: AsyncIterable<string>,
  { name, signal }: { name: string; signal?: AbortSignal },
): AsyncGenerator<ChatEvent> {
  const tools = new Map<number, { id: string; name: string; json: string; input: unknown }>();
  let input = 0;
  let cached: number | undefined;
  let output = 0;
  let finish: FinishReason = 'stop';
  let stopped = false;
  const usage = (): Usage => ({
    prompt_tokens: input,
    completion_tokens: output,
    total_tokens: input + output,
    ...(cached !== undefined && { prompt_tokens_details: { cached_tokens: cached } }),
  });
  for await (const payload of data) {
    const event = parseEvent(name, payload) as StreamEvent;
    const index = event.index ?? 0;
    if (event.type === 'message_start') {
      const u = event.message?.usage ?? {};
      input = inputTokens(u);
      cached = u.cache_read_input_tokens ?? undefined;
      output = u.output_tokens ?? 0;
    } else if (event.type === 'content_block_start') {
      const block = event.content_block;
      if (block?.type === 'tool_use') {
        tools.set(index, { id: block.id ?? '', name: block.name ?? '', json: '', input: block.input });
      } else if (block?.type === 'text' && block.text) yield { type: 'text', text: block.text };
    } else if (event.type === 'content_block_delta') {
      if (event.delta?.type === 'text_delta' && event.delta.text) yield { type: 'text', text: event.delta.text };
      const tool = tools.get(index);
      if (event.delta?.type === 'input_json_delta' && tool) tool.json += event.delta.partial_json ?? '';
    } else if (event.type === 'content_block_stop') {
      const tool = tools.get(index);
      if (!tool) continue;
      tools.delete(index);
      const args = tool.json || JSON.stringify(tool.input ?? {});
      yield {
        type: 'tool_call',
        call: { id: tool.id, type: 'function', function: { name: tool.name, arguments: args } },
      };
    } else if (event.type === 'message_delta') {
      if (event.delta?.stop_reason) finish = toFinishReason(event.delta.stop_reason);
      if (event.usage?.output_tokens != null) output = event.usage.output_tokens;
      if (event.usage?.input_tokens != null) input = inputTokens(event.usage);
      if (event.usage?.cache_read_input_tokens != null) cached = event.usage.cache_read_input_tokens;
    } else if (event.type === 'message_stop') {
      stopped = true;
      break;
    } else if (event.type === 'error') {
      throw streamError(name, event);
    }
  }
  if (!stopped) {
    if (!signal?.aborted) throw upstreamEndedEarly(name);
    finish = 'stop';
  }
  yield { type: 'done', finishReason: finish, usage: usage() };
}
