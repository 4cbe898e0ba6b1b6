import { stopAll, stopChildrenOnExit } from '../test/helpers/child-processes.ts';
import { measureAgainstLlamaServer } from './lib/llm-peer.ts';

/**
 * `npm run bench -- llm-peer`: only the side-by-side with llama-server that `npm run bench -- llm` ends with.
 * BENCH_THREADS (comma-separated, default 1,2) and BENCH_ROUNDS (default 3) change what is measured.
 */
export async function run(): Promise<void> {
  stopChildrenOnExit();
  const threads = (process.env.BENCH_THREADS ?? '1,2').split(',').map(Number);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  try {
    await measureAgainstLlamaServer({ threads, rounds });
  } finally {
    await stopAll();
  }
}
