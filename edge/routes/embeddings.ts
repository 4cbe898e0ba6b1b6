import { Hono } from 'hono';
import { AppError } from '../../shared/errors.ts';
import { EmbeddingRequest, embedInputs } from '../../shared/schemas/embeddings.ts';
import type { AppDeps, AppEnv } from '../env.ts';
import { validate } from '../validate.ts';

/** Keeps the first `n` dimensions and re-normalises to unit length. */
export function truncate(vector: number[], n: number): number[] {
  const head = vector.slice(0, n);
  const norm = Math.hypot(...head) || 1;
  return head.map((x) => x / norm);
}

/** Float32 little-endian bytes in base64, as OpenAI's `encoding_format: "base64"`. */
export function toBase64(vector: number[]): string {
  const bytes = new Uint8Array(new Float32Array(vector).buffer);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** `POST /v1/embeddings`. */
export function embeddingRoutes(deps: Pick<AppDeps, 'inference'>) {
  return new Hono<AppEnv>().post('/embeddings', validate('json', EmbeddingRequest), async (c) => {
    const body = c.req.valid('json');
    const inputs = embedInputs(body.input);
    const session = c.get('session');
    const { vectors, tokens } = await deps.inference.embed(body.model, inputs, {
      signal: c.req.raw.signal,
      sessionId: session.id,
      runnerId: session.runnerId,
      download: c.get('principal').scope === 'admin',
    });
    const size = vectors[0]?.length ?? 0;
    if (body.dimensions && body.dimensions > size) {
      throw new AppError(400, `dimensions: ${body.model} has ${size} dimensions`, { param: 'dimensions' });
    }
    return c.json({
      object: 'list',
      model: body.model,
      data: vectors.map((v, index) => {
        const vector = body.dimensions ? truncate(v, body.dimensions) : v;
        return { object: 'embedding', index, embedding: body.encoding_format === 'base64' ? toBase64(vector) : vector };
      }),
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  });
}
