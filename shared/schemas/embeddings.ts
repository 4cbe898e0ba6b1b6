import { z } from 'zod';
import { LIMITS } from './limits.ts';

/** One input to embed: text, or token ids of the embedding model's own vocabulary (as llama-server and vLLM take them). */
export type EmbedInput = string | number[];

type Issue = { message: string; path: (string | number)[] };

/** What is wrong with one input (at `path`), or null. */
function inputIssue(input: unknown, path: (string | number)[]): Issue | null {
  if (typeof input === 'string') {
    return input.length > LIMITS.embeddingInputChars
      ? {
          path,
          message: `is ${input.length} characters, more than ${LIMITS.embeddingInputChars} (the limit per input)`,
        }
      : null;
  }
  if (!Array.isArray(input) || input.length === 0)
    return { path, message: 'must be a string or a non-empty array of token ids' };
  if (input.length > LIMITS.embeddingInputTokens) {
    return {
      path,
      message: `is ${input.length} tokens, more than ${LIMITS.embeddingInputTokens} (the limit per input)`,
    };
  }
  const bad = input.findIndex((t) => !Number.isSafeInteger(t) || (t as number) < 0);
  return bad < 0 ? null : { path: [...path, bad], message: 'token ids are non-negative integers' };
}

/** The first thing wrong with a list of inputs: count, each input, then the total size. */
function inputsIssue(inputs: unknown[], path: (string | number)[]): Issue | null {
  if (inputs.length === 0) return { path, message: 'must not be empty' };
  if (inputs.length > LIMITS.embeddingInputs) {
    return { path, message: `${inputs.length} inputs, more than ${LIMITS.embeddingInputs} (the limit)` };
  }
  let size = 0;
  for (const [i, input] of inputs.entries()) {
    const issue = inputIssue(input, [...path, i]);
    if (issue) return issue;
    size += (input as EmbedInput).length;
  }
  return size > LIMITS.embeddingChars
    ? { path, message: `${size} characters or tokens over all inputs, more than ${LIMITS.embeddingChars} (the limit)` }
    : null;
}

/** `input`: a string, token ids, or an array of either; checked by hand so the message names the input and the limit. */
const Input = z.custom<string | number[] | EmbedInput[]>().check((ctx) => {
  const value = ctx.value as unknown;
  const issue =
    typeof value === 'string'
      ? inputIssue(value, [])
      : !Array.isArray(value)
        ? { path: [], message: 'must be a string, an array of strings, or token ids' }
        : value.length > 0 && typeof value[0] === 'number'
          ? inputIssue(value, [])
          : inputsIssue(value, []);
  if (issue) ctx.issues.push({ code: 'custom', message: issue.message, path: issue.path, input: value });
});

/** A list of inputs (the runner rpc's body). */
const Inputs = z.custom<EmbedInput[]>().check((ctx) => {
  const value = ctx.value as unknown;
  const issue = Array.isArray(value) ? inputsIssue(value, []) : { path: [], message: 'must be an array' };
  if (issue) ctx.issues.push({ code: 'custom', message: issue.message, path: issue.path, input: value });
});

/**
 * `POST /v1/embeddings` (OpenAI's shape). `input`: a string, an array of
 * strings, an array of token ids, or an array of token-id arrays (what
 * LangChain's OpenAI embeddings send by default).
 */
export const EmbeddingRequest = z.object({
  model: z.string().min(1),
  input: Input,
  encoding_format: z.enum(['float', 'base64']).optional(),
  /** Keep the first N dimensions (re-normalised), as Matryoshka-trained models allow. */
  dimensions: z.number().int().positive().optional(),
  user: z.string().optional(),
});
export type EmbeddingRequest = z.infer<typeof EmbeddingRequest>;

/** The request's `input` as a list of inputs (a lone string or token array is one input). */
export function embedInputs(input: EmbeddingRequest['input']): EmbedInput[] {
  if (typeof input === 'string') return [input];
  if (input.length > 0 && typeof input[0] === 'number') return [input as number[]];
  return input as EmbedInput[];
}

/** What an engine returns for a batch of inputs. */
export const EmbedResult = z.object({ vectors: z.array(z.array(z.number())), tokens: z.number().int().nonnegative() });
export type EmbedResult = z.infer<typeof EmbedResult>;

/** Body of the runner rpc `POST /_runner/v1/embed`. */
export const RunnerEmbedBody = z.object({ model: z.string().min(1), inputs: Inputs, download: z.boolean().optional() });
