import { readGgufFileInfo } from 'node-llama-cpp';
import { AppError } from '../../shared/errors.ts';

/** Keys every llama.cpp architecture reads; a file missing one can abort the whole process in C (FACTS.md). */
const REQUIRED = ['context_length', 'embedding_length', 'block_count', 'feed_forward_length', 'attention.head_count'];

/**
 * Reads a GGUF header in JS before llama.cpp sees the file, and refuses
 * (422) one that is not GGUF or lacks the keys its architecture needs —
 * those would crash the server instead of failing the load.
 */
export async function checkGguf(path: string, name: string, { signal }: { signal?: AbortSignal } = {}): Promise<void> {
  let metadata: Record<string, unknown>;
  try {
    const info = await readGgufFileInfo(path, {
      readTensorInfo: false,
      logWarnings: false,
      sourceType: 'filesystem',
      signal,
    });
    metadata = info.metadata as unknown as Record<string, unknown>;
  } catch (err) {
    throw new AppError(422, `Model file for ${name} is not a readable GGUF file: ${(err as Error).message}`, {
      code: 'invalid_model_file',
      cause: err,
    });
  }
  const arch = (metadata.general as { architecture?: string } | undefined)?.architecture;
  if (!arch)
    throw new AppError(422, `Model file for ${name} has no general.architecture`, { code: 'invalid_model_file' });
  const section = (metadata[arch] ?? {}) as Record<string, unknown>;
  const missing = REQUIRED.filter((key) => lookup(section, key) === undefined);
  if (missing.length) {
    throw new AppError(422, `Model file for ${name} lacks ${missing.map((k) => `${arch}.${k}`).join(', ')}`, {
      code: 'invalid_model_file',
    });
  }
}

function lookup(section: Record<string, unknown>, dotted: string): unknown {
  return dotted
    .split('.')
    .reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), section);
}
