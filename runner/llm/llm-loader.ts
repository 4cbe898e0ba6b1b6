import { stat } from 'node:fs/promises';
import type { LlamaContext, LlamaEmbeddingContext } from 'node-llama-cpp';
import { AppError } from '../../shared/errors.ts';
import { fits, type LoadPlan, type Memory, type ModelLoader } from '../host/model-host.ts';
import { checkGguf } from './gguf-check.ts';
import { llamaRuntime } from './llama-runtime.ts';
import { chatModel, embeddingModel, type LlmModel } from './llm-models.ts';
import { LockstepBatcher } from './lockstep.ts';
import { SequenceSlots } from './sequence-slots.ts';

export interface LlmLoaderOptions {
  /** Inference threads (LLM_THREADS). */
  threads: number;
  /** Sequences per chat model (LLM_PARALLEL). */
  parallel: number;
  /** Callers that may wait for a sequence beyond `parallel`. */
  maxQueue: number;
  /** Context size per sequence when the catalog gives none. */
  contextSize: number;
}

const GB = 1024 ** 3;

/** Loads GGUF chat and embedding models with node-llama-cpp. */
export function llmLoader(options: LlmLoaderOptions): ModelLoader<LlmModel> {
  return async ({ name, entry, path }): Promise<LoadPlan<LlmModel>> => {
    const bytes = (await stat(path)).size;
    await checkGguf(path, name);
    const need: Memory = { ram: bytes * 1.1 + 64 * 1024 * 1024, vram: 0 };
    return {
      need,
      async load(free) {
        if (!fits(need, free)) {
          const gb = (n: number) => (n / GB).toFixed(1);
          throw new AppError(
            507,
            `Not enough memory to load ${name}: needs ~${gb(need.ram)} GB, ${gb(free.ram)} GB available. Unload a model or pick a smaller quantisation.`,
            { code: 'insufficient_memory' },
          );
        }
        const llama = await llamaRuntime();
        const model = await llama.loadModel({ modelPath: path });
        const contextSize = Math.min(entry.contextSize ?? options.contextSize, model.trainContextSize || Infinity);
        const threads = options.threads;
        let context: LlamaContext | LlamaEmbeddingContext;
        try {
          context =
            entry.kind === 'embedding'
              ? // One batch holds a whole input: pooling over an input split across batches is wrong (llama-server asks the same).
                await model.createEmbeddingContext({ contextSize, batchSize: contextSize, threads })
              : await model.createContext({ sequences: options.parallel, contextSize, threads });
        } catch (err) {
          await model.dispose();
          throw new AppError(507, `Cannot create a context for ${name}: ${(err as Error).message}`, { cause: err });
        }
        const holds = { ram: need.ram, vram: 0, mapped: 0 };
        if (entry.kind === 'embedding')
          return {
            model: embeddingModel({ name, model, context: context as LlamaEmbeddingContext, contextSize }),
            holds,
          };
        const chat = context as LlamaContext;
        const sequences = Array.from({ length: options.parallel }, () => chat.getSequence());
        return {
          model: chatModel({
            name,
            model,
            context: chat,
            batcher: new LockstepBatcher(chat),
            slots: new SequenceSlots(sequences, name, options.maxQueue),
          }),
          holds,
        };
      },
    };
  };
}
