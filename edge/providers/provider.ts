import type { ChatEvent, ChatRequest } from '../../shared/schemas/chat.ts';
import type { RetryOptions } from './retry.ts';

/** The `fetch` a provider calls; a Worker's global `fetch` by default. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** How a provider reaches its upstream. */
export interface ProviderHttpOptions {
  /** Default: the global `fetch`. */
  fetch?: FetchLike;
  /** Default: 3 tries, 250 ms × 2^n, `Retry-After` up to 5 s. */
  retry?: RetryOptions;
}

/**
 * An external LLM API behind one interface. Like `Inference.chat`, `chat()`
 * resolves once the upstream accepted the request (an error answer becomes
 * an `AppError` with the upstream's status and message), then streams events
 * ending with one `done`. `request.model` is the upstream's model id.
 */
export interface ChatProvider {
  /** Display name used in messages, e.g. `OpenAI`. */
  readonly name: string;
  chat(request: ChatRequest, options?: { signal?: AbortSignal }): Promise<AsyncIterable<ChatEvent>>;
}

/** The global `fetch`, called unbound (Workers reject a `fetch` called on another object). */
export const globalFetch: FetchLike = (url, init) => fetch(url, init);
