import type { ChatMessage } from '../../shared/schemas/chat.ts';
import { parseSSE } from '../../shared/sse.ts';

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
}

export interface ChatStreamRequest {
  url: string;
  model: string;
  messages: ChatMessage[];
  maxTokens: number;
  /** Sent as X-Session-ID. */
  session?: string;
  signal?: AbortSignal;
}

/** Streams `POST {url}/v1/chat/completions` at temperature 0, timing the first and last content delta. */
export async function timedChatStream({
  url,
  model,
  messages,
  maxTokens,
  session,
  signal,
}: ChatStreamRequest): Promise<StreamTiming> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(session ? { 'x-session-id': session } : {}) },
    body: JSON.stringify({ model, messages, stream: true, max_tokens: maxTokens, temperature: 0 }),
    signal,
  });
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${await res.text()}`);
  const timing: StreamTiming = { text: '', deltas: 0, ttftMs: 0, first: 0, last: 0, finishReason: null };
  for await (const data of parseSSE(res.body!)) {
    if (data === '[DONE]') break;
    const choice = JSON.parse(data).choices?.[0];
    if (choice?.finish_reason) timing.finishReason = choice.finish_reason;
    const content = choice?.delta?.content as string | undefined;
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

/** Yields the content deltas of a streamed chat answer (temperature 0). */
export async function* chatDeltas(request: ChatStreamRequest): AsyncGenerator<string> {
  const res = await fetch(`${request.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(request.session ? { 'x-session-id': request.session } : {}) },
    body: JSON.stringify({
      model: request.model,
      messages: request.messages,
      stream: true,
      max_tokens: request.maxTokens,
      temperature: 0,
    }),
    signal: request.signal,
  });
  if (!res.ok) throw new Error(`chat answered ${res.status}: ${await res.text()}`);
  for await (const data of parseSSE(res.body!)) {
    if (data === '[DONE]') return;
    const content = JSON.parse(data).choices[0]?.delta?.content;
    if (content) yield content as string;
  }
}

/** A long shared history (~1,500 tokens on the tiny byte-level vocabulary). */
export function longHistory(): ChatMessage[] {
  const words = 'the quick brown fox jumps over the lazy dog while edgerunner keeps the cache warm'.split(' ');
  const text = Array.from({ length: 300 }, (_, i) => words[i % words.length]).join(' ');
  return [
    { role: 'system', content: 'You summarise long texts.' },
    { role: 'user', content: text },
  ];
}
