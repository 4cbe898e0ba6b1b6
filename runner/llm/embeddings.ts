import type { EmbedResult } from '../../shared/schemas/embeddings.ts';
import type { EmbeddingModel } from './llm-models.ts';

/** Embeds each input with an embedding model; also counts the input tokens. */
export async function embedInputs(
  embedding: EmbeddingModel,
  inputs: string[],
  { signal }: { signal?: AbortSignal } = {},
): Promise<EmbedResult> {
  const vectors: number[][] = [];
  let tokens = 0;
  for (const input of inputs) {
    signal?.throwIfAborted();
    tokens += embedding.model.tokenize(input).length;
    vectors.push([...(await embedding.context.getEmbeddingFor(input)).vector]);
  }
  return { vectors, tokens };
}
