import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { setPriority } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import type { Logger } from '../../shared/log.ts';
import { acquireFileLock } from '../models/file-lock.ts';

/** What decides whether to build llama.cpp for this CPU. */
export interface NativeBuildFacts {
  /** `LLM_NATIVE_BUILD`: `auto` (default) or `off`. */
  setting: string | undefined;
  ci: boolean;
  /**
   * How node-llama-cpp loaded llama.cpp (`localBuild`: built here, or `prebuilt`) and the GPU backend in use
   * (false on CPU); asked only when the setting and CI allow a build, since it loads llama.cpp.
   */
  binding(): Promise<{ buildType: string; gpu: string | false }>;
  /** Whether a command is on PATH. */
  has(command: string): boolean;
}

/**
 * Why no build for this CPU is started; null: start one. The prebuilt CPU binary is portable (built
 * elsewhere, no OpenMP) and measured 1.1–1.4× slower here than the same llama.cpp built on the machine;
 * a GPU backend is already the fast path, and without cmake and a compiler nothing can be built.
 */
export async function nativeBuildSkipReason(facts: NativeBuildFacts): Promise<string | null> {
  if (facts.setting === 'off') return 'LLM_NATIVE_BUILD=off';
  if (facts.ci) return 'CI';
  const { buildType, gpu } = await facts.binding();
  if (buildType === 'localBuild') return 'llama.cpp is already built for this machine';
  if (gpu !== false) return `the prebuilt ${gpu} binary is in use`;
  if (!facts.has('cmake')) return 'no cmake on PATH';
  if (!['c++', 'g++', 'clang++'].some((c) => facts.has(c))) return 'no C++ compiler on PATH';
  return null;
}

/** Whether `command` is an executable in one of PATH's folders. */
export function onPath(command: string, path = process.env.PATH ?? ''): boolean {
  return path.split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Builds node-llama-cpp's bundled llama.cpp for this CPU in the background, at the lowest CPU priority,
 * from the source inside the npm package (no network), one build per machine at a time. The running
 * server keeps the binary it loaded; the next start uses the new build. Resolves when the build ends.
 */
export async function buildForThisCpu(logger: Logger, signal?: AbortSignal): Promise<void> {
  // The package's entry is dist/index.js; its CLI and its llama folder sit beside dist/.
  const root = dirname(dirname(createRequire(import.meta.url).resolve('node-llama-cpp')));
  const lock = await acquireFileLock(join(root, 'llama', '.edgerunner-build.lock'), { signal });
  try {
    logger.info('building llama.cpp for this CPU in the background (LLM_NATIVE_BUILD=off to skip)', {});
    const child = spawn(
      process.execPath,
      [join(root, 'dist', 'cli', 'cli.js'), 'source', 'download', '--gpu', 'false', '--noUsageExample'],
      { stdio: ['ignore', 'pipe', 'pipe'], signal },
    );
    if (child.pid) setPriority(child.pid, 19);
    let reported = 0;
    let tail = '';
    const read = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-2000);
      for (const [, done, total] of chunk.toString().matchAll(/\[(\d+)\/(\d+)\]/g)) {
        const percent = Math.floor((100 * Number(done)) / Number(total));
        if (percent >= reported + 25) logger.info('llama.cpp build', { percent: (reported = percent) });
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    const code = await new Promise<number | null>((resolve) => {
      child.once('close', resolve);
      child.once('error', () => resolve(null));
    });
    if (code === 0) logger.info('llama.cpp is built for this CPU; it is used from the next start', {});
    else if (!signal?.aborted) logger.warn('llama.cpp build failed; the prebuilt binary stays', { code, output: tail });
  } finally {
    await lock.release();
  }
}
