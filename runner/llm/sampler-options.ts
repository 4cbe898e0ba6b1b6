import { TokenBias, type LlamaModel, type Token } from 'node-llama-cpp';
import { AppError } from '../../shared/errors.ts';
import type { Sampling } from '../../shared/schemas/sampling.ts';

const DEFAULT_TEMPERATURE = 0.7;
/** Tokens the penalties look back on (llama-server's repeat_last_n). */
export const PENALTY_LAST_TOKENS = 64;

/** A request's sampling as the lock-step batcher takes it (LlamaChat's penalties: `llamaChatPenalty`). */
export interface SamplerOptions {
  temperature: number;
  /** Default node-llama-cpp's (0.95). */
  topP?: number;
  /** Default node-llama-cpp's (40); 0 considers every token. */
  topK?: number;
  /** Default node-llama-cpp's (0). */
  minP?: number;
  /** Makes sampling at temperature > 0 repeatable; default a random seed. */
  seed?: number;
  /** Penalties on the last 64 generated tokens (newlines excepted), as llama-server applies them; default 0. */
  presencePenalty?: number;
  frequencyPenalty?: number;
  /** llama.cpp's multiplicative repeat penalty on the same tokens; default 1 (none). */
  repeatPenalty?: number;
  /** Biases on the logits of given tokens (OpenAI's logit_bias); default none. */
  tokenBias?: TokenBias;
  /**
   * Log-probabilities of the answer's tokens: 0 reports each sampled token's, N also the N likeliest
   * alternatives'; default none (they cost a vocabulary-wide pass per token).
   */
  logprobs?: number;
}

/** The request's sampling for `model`: a 400 on a logit_bias token id the model does not have. */
export function samplerOptions(model: LlamaModel, request: Sampling): SamplerOptions {
  return {
    temperature: request.temperature ?? DEFAULT_TEMPERATURE,
    topP: request.topP,
    topK: request.topK,
    minP: request.minP,
    seed: request.seed,
    presencePenalty: request.presencePenalty,
    frequencyPenalty: request.frequencyPenalty,
    repeatPenalty: request.repeatPenalty,
    tokenBias: tokenBiasFor(model, request.logitBias),
    logprobs: request.logprobs,
  };
}

/** The penalties as LlamaChat takes them, applied as the batcher and llama-server do (last 64 tokens, not newlines). */
export function llamaChatPenalty({ presencePenalty, frequencyPenalty, repeatPenalty }: SamplerOptions) {
  if (!presencePenalty && !frequencyPenalty && (repeatPenalty === undefined || repeatPenalty === 1)) return undefined;
  return {
    presencePenalty,
    frequencyPenalty,
    penalty: repeatPenalty,
    penalizeNewLine: false,
    lastTokens: PENALTY_LAST_TOKENS,
  };
}

/** OpenAI's logit_bias as node-llama-cpp's TokenBias: a 400 on a token id the model does not have. */
function tokenBiasFor(model: LlamaModel, logitBias: Sampling['logitBias']): TokenBias | undefined {
  const entries = Object.entries(logitBias ?? {});
  if (entries.length === 0) return undefined;
  const vocabulary = model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length;
  const bias = TokenBias.for(model);
  for (const [key, value] of entries) {
    const token = Number(key);
    if (vocabulary === undefined || !(token < vocabulary)) {
      throw new AppError(
        400,
        vocabulary === undefined
          ? 'logit_bias: the model does not say how many tokens it has, so token ids cannot be checked'
          : `logit_bias: token ${key} is not in the model's vocabulary of ${vocabulary} tokens`,
        { param: 'logit_bias' },
      );
    }
    bias.set(token as Token, value <= -100 ? 'never' : { logit: value });
  }
  return bias;
}
