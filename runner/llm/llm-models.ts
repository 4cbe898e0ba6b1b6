import type { LlamaContext, LlamaEmbeddingContext, LlamaModel } from 'node-llama-cpp';
import type { AppError } from '../../shared/errors.ts';
import type { HostedModel } from '../host/model-host.ts';
import type { LockstepBatcher } from './lockstep.ts';
import type { SequenceSlots } from './sequence-slots.ts';

/** A chat model in memory: one context whose sequences sessions borrow, decoded in lock-step where it can be. */
export interface ChatModel extends HostedModel {
  readonly kind: 'llm';
  readonly name: string;
  readonly model: LlamaModel;
  readonly context: LlamaContext;
  readonly batcher: LockstepBatcher;
  readonly slots: SequenceSlots;
}

/** An embedding model in memory. */
export interface EmbeddingModel extends HostedModel {
  readonly kind: 'embedding';
  readonly name: string;
  readonly model: LlamaModel;
  readonly context: LlamaEmbeddingContext;
  /** Tokens one input may have. */
  readonly contextSize: number;
}

/** What the LLM engine keeps in the model host. */
export type LlmModel = ChatModel | EmbeddingModel;

/** The record of a loaded chat model: closing fails its waiters, disposing frees context and weights. */
export function chatModel(fields: Omit<ChatModel, 'kind' | 'close' | 'dispose'>): ChatModel {
  return {
    kind: 'llm',
    ...fields,
    close: (reason: AppError) => fields.slots.close(reason),
    async dispose() {
      fields.batcher.dispose();
      await fields.context.dispose();
      await fields.model.dispose();
    },
  };
}

/** The record of a loaded embedding model. */
export function embeddingModel(fields: Omit<EmbeddingModel, 'kind' | 'close' | 'dispose'>): EmbeddingModel {
  return {
    kind: 'embedding',
    ...fields,
    async dispose() {
      await fields.context.dispose();
      await fields.model.dispose();
    },
  };
}
