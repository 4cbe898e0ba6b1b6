import { z } from 'zod';
import { LIMITS } from './limits.ts';
import { PublicSampling, Sampling } from './sampling.ts';

const tooLong = `is longer than ${LIMITS.messagesChars} characters (the limit)`;
const Text = z.string().max(LIMITS.messagesChars, tooLong);

/**
 * `POST /v1/completions`: OpenAI's legacy text completion (one prompt), with
 * `suffix` for fill-in-the-middle on models that have FIM tokens. The prompt
 * is raw model input: special tokens written in it (`<|fim_prefix|>`…) are
 * read as such, as llama-server does. Unknown fields are ignored.
 */
export const TextCompletionRequest = z
  .object({
    model: z.string().min(1).optional(),
    prompt: z.union([Text, z.array(Text).length(1, 'takes one prompt (an array of one string)')]),
    suffix: Text.nullish(),
    echo: z.boolean().nullish(),
    best_of: z.literal(1, { error: 'only best_of = 1 is supported' }).nullish(),
    ...PublicSampling,
    /** Log-probabilities of the answer's tokens and of their `logprobs` likeliest alternatives (OpenAI: ≤ 5). */
    logprobs: z.number().int().min(0).max(5).nullish(),
  })
  .check((ctx) => {
    if (ctx.value.echo && ctx.value.suffix != null) {
      ctx.issues.push({ code: 'custom', message: 'echo cannot be combined with suffix', input: true, path: ['echo'] });
    }
  });
export type TextCompletionRequest = z.infer<typeof TextCompletionRequest>;

/** A text completion as engines see it: one prompt, model resolved. */
export const CompletionRequest = z.object({
  model: z.string().min(1),
  prompt: Text,
  /** Fill-in-the-middle: the text after the gap (the prompt is the text before it). */
  suffix: Text.optional(),
  ...Sampling,
});
export type CompletionRequest = z.infer<typeof CompletionRequest>;

/** Body of the runner rpc `POST /_runner/v1/complete`. */
export const RunnerCompleteBody = z.object({
  sessionId: z.string().min(1),
  request: CompletionRequest,
  download: z.boolean().optional(),
});
