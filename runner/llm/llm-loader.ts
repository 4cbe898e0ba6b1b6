import { GgufInsights, readGgufFileInfo, type LlamaContext, type LlamaEmbeddingContext } from 'node-llama-cpp';
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
const MB = 1024 ** 2;
/** The smallest context a load falls back to; node-llama-cpp rounds contexts to multiples of 256. */
const MIN_CONTEXT = 512;

/**
 * Loads GGUF chat and embedding models with node-llama-cpp. The memory a load
 * needs is node-llama-cpp's own estimate (GGUF insights): the weights, plus
 * the context's KV cache for every sequence (context size × LLM_PARALLEL)
 * and its compute buffers, on the CPU or the GPU. When the catalog's context
 * does not fit what is free, the largest smaller one that does is used; when
 * not even the smallest fits, 507 naming what it needs.
 */
export function llmLoader(options: LlmLoaderOptions): ModelLoader<LlmModel> {
  return async ({ name, entry, path }): Promise<LoadPlan<LlmModel>> => {
    await checkGguf(path, name);
    const llama = await llamaRuntime();
    const insights = await GgufInsights.from(
      await readGgufFileInfo(path, { sourceType: 'filesystem', logWarnings: false }),
      llama,
    );
    const embedding = entry.kind === 'embedding';
    const sequences = embedding ? 1 : options.parallel;
    const gpuLayers = llama.gpu === false ? 0 : insights.totalLayers;
    const weights = insights.estimateModelResourceRequirements({ gpuLayers });
    const needFor = (contextSize: number): Memory => {
      const context = insights.estimateContextResourceRequirements({
        contextSize,
        modelGpuLayers: gpuLayers,
        sequences,
        isEmbeddingContext: embedding,
        batchSize: embedding ? contextSize : undefined,
      });
      return { ram: weights.cpuRam + context.cpuRam + 64 * MB, vram: weights.gpuVram + context.gpuVram };
    };
    const wanted = Math.max(
      1,
      Math.min(entry.contextSize ?? options.contextSize, insights.trainContextSize || Infinity),
    );
    const need = needFor(wanted);
    return {
      need,
      async load(free) {
        const contextSize = largestFitting(wanted, needFor, free);
        if (contextSize === undefined) {
          const smallest = Math.min(wanted, MIN_CONTEXT);
          const gb = (n: number) => (n / GB).toFixed(1);
          const at = needFor(smallest);
          throw new AppError(
            507,
            `Not enough memory to load ${name}: needs ~${gb(need.ram)} GB` +
              (need.vram ? ` and ~${gb(need.vram)} GB of GPU memory` : '') +
              ` with a context of ${wanted} tokens × ${sequences} sequences, ~${gb(at.ram)} GB even with ${smallest}; ` +
              `${gb(free.ram)} GB available${need.vram ? `, ${gb(free.vram)} GB of GPU memory` : ''}. ` +
              'Unload a model, pick a smaller quantisation, or lower LLM_PARALLEL.',
            { code: 'insufficient_memory' },
          );
        }
        const model = await llama.loadModel({ modelPath: path, gpuLayers });
        const threads = options.threads;
        let context: LlamaContext | LlamaEmbeddingContext;
        try {
          context = embedding
            ? // One batch holds a whole input: pooling over an input split across batches is wrong (llama-server asks the same).
              await model.createEmbeddingContext({ contextSize, batchSize: contextSize, threads })
            : await model.createContext({ sequences: options.parallel, contextSize, threads });
        } catch (err) {
          await model.dispose();
          throw new AppError(507, `Cannot create a context for ${name}: ${(err as Error).message}`, { cause: err });
        }
        const used = needFor(contextSize);
        const holds = { ram: used.ram, vram: used.vram, mapped: 0 };
        if (embedding)
          return {
            model: embeddingModel({ name, model, context: context as LlamaEmbeddingContext, contextSize }),
            holds,
          };
        const chat = context as LlamaContext;
        const sequencesOf = Array.from({ length: options.parallel }, () => chat.getSequence());
        return {
          model: chatModel({
            name,
            model,
            context: chat,
            batcher: new LockstepBatcher(chat),
            slots: new SequenceSlots(sequencesOf, name, options.maxQueue),
          }),
          holds,
        };
      },
    };
  };
}

/** The largest context size up to `wanted` (halving, down to MIN_CONTEXT) whose load fits `free`; undefined when none does. */
export function largestFitting(
  wanted: number,
  needFor: (contextSize: number) => Memory,
  free: Memory,
): number | undefined {
  for (let size = wanted; ; size = Math.max(MIN_CONTEXT, Math.floor(size / 2 / 256) * 256)) {
    if (fits(needFor(size), free)) return size;
    if (size <= MIN_CONTEXT) return undefined;
  }
}
