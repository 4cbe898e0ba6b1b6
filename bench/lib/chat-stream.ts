import type { ChatMessage, Usage } from '../../shared/schemas/chat.ts';
import { parseSSE } from '../../shared/sse.ts';

export interface ChatStreamRequest {
  url: string;
  model: string;
  messages: ChatMessage[];
  maxTokens: number;
  /** Sent as X-Session-ID. */
  session?: string;
  signal?: AbortSignal;
}

interface ChatChunk {
  choices?: { delta?: { content?: string }; finish_reason?: string | null }[];
  usage?: Usage | null;
}

/** The chunks of `POST {url}/v1/chat/completions`, streamed at temperature 0 with the usage chunk asked for. */
async function* chatChunks({ url, model, messages, maxTokens, session, signal }: ChatStreamRequest) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(session ? { 'x-session-id': session } : {}) },
    body: JSON.stringify({
      model,
      messages,
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: maxTokens,
      temperature: 0,
    }),
    signal,
  });
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${await res.text()}`);
  for await (const data of parseSSE(res.body!)) {
    if (data === '[DONE]') return;
    yield JSON.parse(data) as ChatChunk;
  }
}

/** Yields the content deltas of a streamed chat answer (temperature 0). */
export async function* chatDeltas(request: ChatStreamRequest): AsyncGenerator<string> {
  for await (const chunk of chatChunks(request)) {
    const content = chunk.choices?.[0]?.delta?.content;
    if (content) yield content;
  }
}

/** One streamed chat answer, timed on the client. */
export interface StreamTiming {
  /** The answer's text. */
  text: string;
  /** Content deltas received. */
  deltas: number;
  /** Milliseconds from sending the request to the first content. */
  ttftMs: number;
  /** performance.now() of the first content and of the last. */
  first: number;
  last: number;
  finishReason: string | null;
  /** The server's `usage.prompt_tokens_details.cached_tokens`, when it says. */
  cachedTokens?: number;
}

/** Streams a chat answer, timing its first and last content delta. */
export async function timedChatStream(request: ChatStreamRequest): Promise<StreamTiming> {
  const t0 = performance.now();
  const timing: StreamTiming = { text: '', deltas: 0, ttftMs: 0, first: 0, last: 0, finishReason: null };
  for await (const chunk of chatChunks(request)) {
    timing.cachedTokens = chunk.usage?.prompt_tokens_details?.cached_tokens ?? timing.cachedTokens;
    const choice = chunk.choices?.[0];
    if (choice?.finish_reason) timing.finishReason = choice.finish_reason;
    const content = choice?.delta?.content;
    if (!content) continue;
    const now = performance.now();
    if (timing.deltas++ === 0) {
      timing.first = now;
      timing.ttftMs = now - t0;
    }
    timing.last = now;
    timing.text += content;
  }
  return timing;
}

/** A long shared history (~1,400 tokens on the tiny byte-level vocabulary). */
export function longHistory(): ChatMessage[] {
  const words = 'the quick brown fox jumps over the lazy dog while edgerunner keeps the cache warm'.split(' ');
  const text = Array.from({ length: 300 }, (_, i) => words[i % words.length]).join(' ');
  return [
    { role: 'system', content: 'You summarise long texts.' },
    { role: 'user', content: text },
  ];
}
