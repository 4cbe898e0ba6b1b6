import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { getLlama, LlamaLogLevel, type Llama } from 'node-llama-cpp';

let shared: Promise<Llama> | undefined;

/**
 * The process-wide llama.cpp binding: a build made on this machine when there is one (see native-build.ts), else
 * node-llama-cpp's prebuilt binary; never a build at load. A GPU when one is usable, else CPU.
 */
export function llamaRuntime(): Promise<Llama> {
  shared ??= getLlama({ gpu: 'auto', build: 'never', logLevel: LlamaLogLevel.error }).catch(() =>
    getLlama({ gpu: false, build: 'never' }),
  );
  return shared;
}

/** Free GPU memory in bytes (0 without a GPU). */
export async function freeVram(): Promise<number> {
  const llama = await llamaRuntime();
  return llama.gpu === false ? 0 : (await llama.getVramState()).free;
}

/** Physical cores (distinct core ids per socket in /proc/cpuinfo), else the logical count. */
export function physicalCores(): number {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const cores = new Set<string>();
    let socket = '0';
    for (const line of info.split('\n')) {
      const [key, value] = line.split(':').map((s) => s.trim());
      if (key === 'physical id') socket = value ?? '0';
      if (key === 'core id') cores.add(`${socket}:${value}`);
    }
    if (cores.size > 0) return cores.size;
  } catch {
    // not Linux
  }
  return availableParallelism();
}

/**
 * Default inference threads: one per physical core. On the 2-core machines here, with llama.cpp built for the CPU,
 * 2 threads ran 1.8× the 1-thread rate for one stream and for four (README, "Against llama.cpp's own server");
 * set LLM_THREADS to what `npm run bench -- llm-peer` says for your machine and load.
 */
export function defaultThreads(): number {
  return physicalCores();
}
