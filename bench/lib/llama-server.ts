import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { runToEnd } from '../../test/helpers/child-processes.ts';

/** llama-server built from the llama.cpp that node-llama-cpp bundles: the binary and the commit it ran. */
export interface LlamaServerBuild {
  binary: string;
  commit: string;
}

// The package's entry is dist/index.js; its llama folder (with the git bundle of its llama.cpp) sits beside dist/.
const packageRoot = () => dirname(dirname(createRequire(import.meta.url).resolve('node-llama-cpp')));

/**
 * Builds llama.cpp's own server from the source node-llama-cpp ships inside its npm package
 * (`llama/gitRelease.bundle`, no network), for this CPU, with llama.cpp's default options, and caches it
 * under node_modules/.cache by commit: the first run takes minutes (~10 on 2 cores), later ones none.
 * Needs git, cmake and a C++ compiler.
 */
export async function llamaServer({ log = console.log } = {}): Promise<LlamaServerBuild> {
  const bundle = join(packageRoot(), 'llama', 'gitRelease.bundle');
  const head = execFileSync('git', ['bundle', 'list-heads', bundle], { encoding: 'utf8' });
  const commit = head.split(/\s/)[0]!;
  const cache = join(packageRoot(), '..', '.cache', 'edgerunner-llama-server', commit.slice(0, 12));
  const build = join(cache, 'build');
  const binary = join(build, 'bin', 'llama-server');
  // Written once the binary is complete, so a stopped build is redone.
  const done = join(cache, 'built');
  if (existsSync(done)) return { binary, commit };

  log(`building llama-server from node-llama-cpp's bundled llama.cpp ${commit.slice(0, 7)} (cached after this run)…`);
  await rm(cache, { recursive: true, force: true });
  await mkdir(cache, { recursive: true });
  const source = join(cache, 'src');
  const jobs = String(availableParallelism());
  const limit = 30 * 60_000;
  await runToEnd({ name: 'git clone', command: 'git', args: ['clone', '-q', bundle, source], timeoutMs: limit });
  await runToEnd({
    name: 'cmake configure',
    command: 'cmake',
    args: ['-S', source, '-B', build, '-DCMAKE_BUILD_TYPE=Release', '-DLLAMA_CURL=OFF', '-DLLAMA_BUILD_TESTS=OFF'],
    timeoutMs: limit,
  });
  await runToEnd({
    name: 'cmake build',
    command: 'cmake',
    args: ['--build', build, '--target', 'llama-server', '-j', jobs],
    timeoutMs: limit,
  });
  await writeFile(done, `${commit}\n`);
  return { binary, commit };
}
