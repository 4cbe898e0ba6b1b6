import type { Logger } from '../../shared/log.ts';
import type { CatalogEntry } from '../../shared/schemas/catalog.ts';
import { freeVram } from '../llm/llama-runtime.ts';
import { availableMemory } from '../system/memory.ts';
import { ModelHost, type HostedModel, type ModelFiles } from './model-host.ts';

/**
 * The one model host of a process, shared by its engines (each registers the loaders of its kinds): one
 * memory check, one least-recently-used eviction and one idle unload across LLMs and ONNX models. Memory is
 * MemAvailable and the GPU's free memory as llama.cpp reads it.
 */
export function sharedModelHost(options: {
  models: Record<string, CatalogEntry>;
  files: ModelFiles;
  keepAliveMs?: number;
  logger?: Logger;
}): ModelHost<HostedModel> {
  return new ModelHost<HostedModel>({
    ...options,
    memory: async () => ({ ram: availableMemory(), vram: await freeVram() }),
  });
}
