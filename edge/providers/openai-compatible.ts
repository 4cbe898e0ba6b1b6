import { randomAlphanumeric } from '../../shared/ids.ts';
import {
  contentText,
  type ChatEvent,
  type ChatMessage,
  type ChatRequest,
  type FinishReason,
  type TokenLogprob,
  type ToolCall,
  type Usage,
} from '../../shared/schemas/chat.ts';
import type { ChatProvider, ProviderHttpOptions } from './provider.ts';
import { parseEvent, postForSSE, streamError, upstreamEndedEarly } from './upstream.ts';

export interface OpenAICompatibleOptions extends ProviderHttpOptions {
  /** Display name, e.g. `Groq`. */
  name: string;
  /** Base URL including the version segment, e.g. `https://api.openai.com/v1`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer`; none for local servers that need no key. */
  apiKey?: string;
}

/** Any OpenAI-compatible chat API: OpenAI, Groq, Together, vLLM, llama-server, Ollama's `/v1`. */
export class OpenAICompatibleProvider implements ChatProvider {
  readonly name: string;
  readonly #options: OpenAICompatibleOptions;

  constructor(options: OpenAICompatibleOptions) {
    this.name = options.name;
    this.#options = options;
  }

  async chat(request: ChatRequest, { signal }: { signal?: AbortSignal } = {}): Promise<AsyncIterable<ChatEvent>> {
    const { name, baseUrl, apiKey, fetch, retry } = this.#options;
    const data = await postForSSE({
      name,
      url: `${baseUrl.replace(/\/+$/, '')}/chat/completions`,
      headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
      body: toOpenAIRequest(request),
      signal,
      fetch,
      retry,
    });
    return openAIEvents(data, { name, signal });
  }
}

function toOpenAIMessage(m: ChatMessage): Record<string, unknown> {
  const role = m.role === 'ai' ? 'assistant' : m.role === 'developer' ? 'system' : m.role;
  const toolCalls = m.tool_calls?.length ? m.tool_calls : undefined;
  return {
    role,
    content: toolCalls && m.content == null ? null : contentText(m.content),
    ...(m.name ? { name: m.name } : {}),
    ...(toolCalls ? { tool_calls: toolCalls } : {}),
    ...(m.tool_call_id ? { tool_call_id: m.tool_call_id } : {}),
  };
}

/** Our chat request → an OpenAI streaming `chat/completions` body (usage included). */
export function toOpenAIRequest(request: ChatRequest): Record<string, unknown> {
  const tools = request.tools?.length ? request.tools : undefined;
  return {
    model: request.model,
    messages: request.messages.map(toOpenAIMessage),
    stream: true,
    stream_options: { include_usage: true },
    temperature: request.temperature,
    top_p: request.topP,
    max_tokens: request.maxTokens,
    stop: request.stop,
    seed: request.seed,
    presence_penalty: request.presencePenalty,
    frequency_penalty: request.frequencyPenalty,
    // llama-server / vLLM / Ollama names: passed on; an upstream without them says so (an upstream-marked 400).
    top_k: request.topK,
    min_p: request.minP,
    repeat_penalty: request.repeatPenalty,
    logit_bias: request.logitBias,
    parallel_tool_calls: tools ? request.parallelToolCalls : undefined,
    logprobs: request.logprobs !== undefined ? true : undefined,
    top_logprobs: request.logprobs || undefined,
    tools,
    tool_choice: tools ? request.toolChoice : undefined,
    response_format: request.responseFormat,
  };
}

interface ToolCallDelta {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: unknown };
}

interface Chunk {
  choices?: Array<{
    delta?: { content?: string | null; tool_calls?: ToolCallDelta[] };
    logprobs?: { content?: TokenLogprob[] | null } | null;
    finish_reason?: string | null;
  }>;
  usage?: Partial<Usage> | null;
  x_groq?: { usage?: Partial<Usage> };
  error?: unknown;
}

function toUsage(u: Partial<Usage>): Usage {
  const prompt = u.prompt_tokens ?? 0;
  const completion = u.completion_tokens ?? 0;
  const cached = u.prompt_tokens_details?.cached_tokens;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: u.total_tokens ?? prompt + completion,
    ...(typeof cached === 'number' && { prompt_tokens_details: { cached_tokens: cached } }),
  };
}

function toFinishReason(reason: string): FinishReason {
  if (reason === 'length') return 'length';
  if (reason === 'tool_calls' || reason === 'function_call') return 'tool_calls';
  return 'stop';
}

/** The call a delta continues: by `index`, else by `id`, else a new call when it has an id, else the last one. */
function slotOf(delta: ToolCallDelta, calls: Map<number, ToolCall>): number {
  if (delta.index !== undefined) return delta.index;
  for (const [index, call] of calls) if (delta.id && call.id === delta.id) return index;
  return delta.id || calls.size === 0 ? calls.size : calls.size - 1;
}

/**
 * OpenAI `chat.completion.chunk` payloads (SSE `data`, `[DONE]` included) →
 * our events: text deltas at once; tool-call deltas accumulated by index and
 * yielded whole before `done`; finish reason and usage (also Groq's
 * `x_groq.usage`). A stream cut before its end fails with 502, unless
 * `signal` was aborted: then it ends with `done` (`stop`).
 */
export async function* openAIEvents(
  data: AsyncIterable<string>,
  { name, signal }: { name: string; signal?: AbortSignal },
): AsyncGenerator<ChatEvent> {
  const calls = new Map<number, ToolCall>();
  let finish: FinishReason | undefined;
  let usage: Usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  let sawDone = false;
  for await (const payload of data) {
    if (payload === '[DONE]') {
      sawDone = true;
      break;
    }
    const chunk = parseEvent(name, payload) as Chunk;
    if (chunk.error) throw streamError(name, chunk);
    const reported = chunk.usage ?? chunk.x_groq?.usage;
    if (reported) usage = toUsage(reported);
    const choice = chunk.choices?.[0];
    if (!choice) continue;
    const logprobs = choice.logprobs?.content ?? undefined;
    if (choice.delta?.content || logprobs?.length) {
      yield { type: 'text', text: choice.delta?.content ?? '', ...(logprobs && { logprobs }) };
    }
    for (const delta of choice.delta?.tool_calls ?? []) {
      const index = slotOf(delta, calls);
      const call = calls.get(index) ?? { id: '', type: 'function' as const, function: { name: '', arguments: '' } };
      if (delta.id) call.id = delta.id;
      if (delta.function?.name) call.function.name = delta.function.name;
      const args = delta.function?.arguments;
      if (args != null) call.function.arguments += typeof args === 'string' ? args : JSON.stringify(args);
      calls.set(index, call);
    }
    if (choice.finish_reason) finish = toFinishReason(choice.finish_reason);
  }
  if (!sawDone && !finish) {
    if (!signal?.aborted) throw upstreamEndedEarly(name);
    yield { type: 'done', finishReason: 'stop', usage };
    return;
  }
  const complete = [...calls.entries()].sort(([a], [b]) => a - b).filter(([, c]) => c.function.name);
  for (const [, call] of complete) {
    yield {
      type: 'tool_call',
      call: {
        ...call,
        id: call.id || `call_${randomAlphanumeric(24)}`,
        function: { name: call.function.name, arguments: call.function.arguments || '{}' },
      },
    };
  }
  const finishReason = complete.length && finish !== 'length' ? 'tool_calls' : (finish ?? 'stop');
  yield { type: 'done', finishReason, usage };
}
