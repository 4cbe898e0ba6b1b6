import { z } from 'zod';
import { LIMITS } from './limits.ts';

/** OpenAI's `logit_bias`: token ids (decimal strings) → -100…100, at most `LIMITS.logitBias` of them. */
export const LogitBias = z.record(z.string(), z.number().min(-100).max(100)).check((ctx) => {
  const keys = Object.keys(ctx.value);
  const bad = keys.find((k) => !/^\d{1,9}$/.test(k));
  if (bad !== undefined) {
    ctx.issues.push({
      code: 'custom',
      message: 'keys are token ids (decimal integers)',
      input: ctx.value,
      path: [bad],
    });
  } else if (keys.length > LIMITS.logitBias) {
    ctx.issues.push({ code: 'custom', message: `more than ${LIMITS.logitBias} tokens (the limit)`, input: ctx.value });
  }
});

/** Sampling fields of the public chat and text completion requests: OpenAI's names, and llama-server's / Ollama's. */
export const PublicSampling = {
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  max_tokens: z.number().int().positive().nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
  seed: z.number().int().nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  n: z.literal(1, { error: 'only n = 1 is supported' }).nullish(),
  /** top_k 0 considers every token; repeat_penalty 1 is none. */
  top_k: z.number().int().min(0).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  repeat_penalty: z.number().positive().max(10).nullish(),
  /** Token id (as a string) → a bias added to its logit; -100 bans it. */
  logit_bias: LogitBias.nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
};

/** The same fields as engines take them (and as the edge sends them to a runner). */
export const Sampling = {
  temperature: z.number().optional(),
  topP: z.number().optional(),
  maxTokens: z.number().int().positive().optional(),
  stop: z.array(z.string()).optional(),
  seed: z.number().int().optional(),
  presencePenalty: z.number().optional(),
  frequencyPenalty: z.number().optional(),
  topK: z.number().int().min(0).optional(),
  minP: z.number().min(0).max(1).optional(),
  /** llama.cpp's multiplicative penalty on the last 64 tokens; 1 is none. */
  repeatPenalty: z.number().positive().optional(),
  logitBias: LogitBias.optional(),
  /** Report the answer tokens' log-probabilities: 0 the sampled token's, N also the N likeliest alternatives'. */
  logprobs: z.number().int().min(0).max(20).optional(),
};
export type Sampling = z.infer<z.ZodObject<typeof Sampling>>;
type PublicSampling = z.infer<z.ZodObject<typeof PublicSampling>>;

/** The public sampling fields → the engines' (absent and null both become undefined). */
export function toSampling(body: PublicSampling & { max_completion_tokens?: number | null }): Sampling {
  return {
    temperature: body.temperature ?? undefined,
    topP: body.top_p ?? undefined,
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
    stop: typeof body.stop === 'string' ? [body.stop] : (body.stop ?? undefined),
    seed: body.seed ?? undefined,
    presencePenalty: body.presence_penalty ?? undefined,
    frequencyPenalty: body.frequency_penalty ?? undefined,
    topK: body.top_k ?? undefined,
    minP: body.min_p ?? undefined,
    repeatPenalty: body.repeat_penalty ?? undefined,
    logitBias: body.logit_bias ?? undefined,
  };
}
