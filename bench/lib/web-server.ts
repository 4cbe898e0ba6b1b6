import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { listeningUrl, start, type Child } from '../../test/helpers/child-processes.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface WebServerOptions {
  /** DATA_DIR of the server (a fresh one: no keys, so loopback calls need none). */
  dir: string;
  /** Node flags before the script, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
}

/**
 * The embedded server (`runner/main.ts`, what `npm start` runs) on 127.0.0.1 and a free port, with
 * `SSRF_ALLOWLIST=127.0.0.1` so `url_stream` may fetch the local file server. Started as one Node process
 * (`node --import tsx`, not `npm start` → tsx → node) so `pid` is the server's own, for its RSS and CPU time.
 */
export async function startWebServer({ dir, nodeArgs = [] }: WebServerOptions): Promise<{
  url: string;
  child: Child;
  pid: number;
}> {
  const child = start({
    name: 'edgerunner',
    command: process.execPath,
    args: [...nodeArgs, '--import', 'tsx', 'runner/main.ts'],
    cwd: ROOT,
    env: {
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dir,
      SSRF_ALLOWLIST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      // No background build of llama.cpp competing with the measurement.
      LLM_NATIVE_BUILD: 'off',
    },
  });
  return { url: await listeningUrl(child, { timeoutMs: 60_000 }), child, pid: child.process.pid! };
}

let ticksPerS: number | undefined;

/** A process's resident set (VmRSS, bytes) and CPU time so far (user + system, seconds), from /proc. */
export function procStats(pid: number): { rssBytes: number; cpuS: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  // /proc/<pid>/stat: after "(comm) ", field 3 (state) on; utime and stime are fields 14 and 15, in clock ticks.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  ticksPerS ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return { rssBytes: rssKb * 1024, cpuS: (Number(fields[11]) + Number(fields[12])) / ticksPerS };
}

/** `bench/lib/web-passthrough.ts` (the bare Node proxy) on 127.0.0.1 and a free port, as one Node process. */
export async function startPassthrough(): Promise<{ url: string; child: Child; pid: number }> {
  const child = start({
    name: 'web-passthrough',
    command: process.execPath,
    args: ['--import', 'tsx', 'bench/lib/web-passthrough.ts'],
    cwd: ROOT,
    env: { HOST: '127.0.0.1', PORT: '0' },
  });
  return { url: await listeningUrl(child, { timeoutMs: 60_000 }), child, pid: child.process.pid! };
}
