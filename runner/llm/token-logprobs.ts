import type { LlamaModel, Token } from 'node-llama-cpp';
import type { TokenLogprob } from '../../shared/schemas/chat.ts';

/** What sampling said about one generated token: its probability, and the likeliest alternatives. */
export interface SampledToken {
  token: Token;
  probability: number;
  top?: [Token, number][];
}

/** OpenAI's log-probability of a token that could not be drawn (its logprob would be -Infinity). */
const IMPOSSIBLE = -9999;

const encoder = new TextEncoder();
const logOf = (p: number) => (p > 0 ? Math.log(p) : IMPOSSIBLE);

/**
 * One generated token in OpenAI's `logprobs.content` shape: its text (decoded after the tokens before it, so a
 * leading space shows), the UTF-8 bytes of that text, its log-probability and the top alternatives'.
 */
export function tokenLogprob(model: LlamaModel, sampled: SampledToken, before: readonly Token[]): TokenLogprob {
  const entry = (token: Token, probability: number) => {
    const text = model.detokenize([token], false, before);
    return { token: text, logprob: logOf(probability), bytes: [...encoder.encode(text)] };
  };
  return {
    ...entry(sampled.token, sampled.probability),
    top_logprobs: (sampled.top ?? []).map(([token, p]) => entry(token, p)),
  };
}
