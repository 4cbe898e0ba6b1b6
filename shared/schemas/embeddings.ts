import { z } from 'zod';

/** `POST /v1/embeddings` (OpenAI's shape). */
export const EmbeddingRequest = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1).max(2048)]),
  encoding_format: z.enum(['float', 'base64']).optional(),
  /** Keep the first N dimensions (re-normalised), as Matryoshka-trained models allow. */
  dimensions: z.number().int().positive().optional(),
  user: z.string().optional(),
});
export type EmbeddingRequest = z.infer<typeof EmbeddingRequest>;

/** What an engine returns for a batch of inputs. */
export const EmbedResult = z.object({ vectors: z.array(z.array(z.number())), tokens: z.number().int().nonnegative() });
export type EmbedResult = z.infer<typeof EmbedResult>;

/** Body of the runner rpc `POST /_runner/v1/embed`. */
export const RunnerEmbedBody = z.object({ model: z.string().min(1), inputs: z.array(z.string()).min(1) });
