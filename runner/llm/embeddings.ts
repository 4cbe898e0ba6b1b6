import type { Token } from 'node-llama-cpp';
import { AppError } from '../../shared/errors.ts';
import type { EmbedResult } from '../../shared/schemas/embeddings.ts';
import type { EmbeddingModel } from './llm-models.ts';

/** Text, or token ids of the embedding model's own vocabulary. */
export type EmbeddingInput = string | number[];

/**
 * Embeds each input with an embedding model and counts the input tokens.
 * Every input is tokenized and checked first: one longer than the model's
 * context, or with a token id outside its vocabulary, is a 400 naming the
 * input (`input[i]`) before any work is done.
 */
export async function embedInputs(
  embedding: EmbeddingModel,
  inputs: readonly EmbeddingInput[],
  { signal }: { signal?: AbortSignal } = {},
): Promise<EmbedResult> {
  const { model, context, name } = embedding;
  const vocabulary = vocabularySize(embedding);
  let tokens = 0;
  const tokenized = inputs.map((input, i): Token[] => {
    const ids = typeof input === 'string' ? model.tokenize(input) : (input as Token[]);
    if (typeof input !== 'string' && vocabulary !== undefined) {
      const bad = ids.findIndex((t) => t >= vocabulary);
      if (bad !== -1)
        throw new AppError(
          400,
          `input[${i}][${bad}]: token id ${ids[bad]} is not in ${name}'s vocabulary of ${vocabulary}`,
          {
            param: `input[${i}]`,
          },
        );
    }
    // The length as evaluated (with the tokens the model adds); the context must hold it with one to spare.
    const length = context.calculateInputLength(ids);
    if (length >= embedding.contextSize) {
      throw new AppError(
        400,
        `input[${i}]: ${length} tokens, more than the ${embedding.contextSize - 1} that ${name} can embed at once; split the input`,
        { param: `input[${i}]`, code: 'context_length_exceeded' },
      );
    }
    tokens += ids.length;
    return ids;
  });
  const vectors: number[][] = [];
  for (const ids of tokenized) {
    signal?.throwIfAborted();
    vectors.push([...(await context.getEmbeddingFor(ids)).vector]);
  }
  return { vectors, tokens };
}

function vocabularySize(embedding: EmbeddingModel): number | undefined {
  const metadata = embedding.model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: readonly unknown[] } } };
  return metadata.tokenizer?.ggml?.tokens?.length;
}
