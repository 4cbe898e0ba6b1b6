import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface Started {
  child: ChildProcess;
  url: string;
  output(): string;
  /** SIGTERM to the whole process group (npm → tsx → node), then waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const QUIET = { WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', LOG_LEVEL: 'warn', CI: 'true' };

/** Runs `npm run <script>` in its own process group with `env` added. */
export function npmRun(script: string, env: Record<string, string>, args: string[] = []): ChildProcess {
  return spawn('npm', ['run', '-s', script, ...(args.length ? ['--', ...args] : [])], {
    env: { ...process.env, ...QUIET, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function stopper(child: ChildProcess) {
  return (signal: NodeJS.Signals = 'SIGTERM') =>
    new Promise<number | null>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 5_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
      try {
        process.kill(-child.pid!, signal);
      } catch {
        resolve(child.exitCode);
      }
    });
}

/** Starts `npm run <script>` and resolves once it prints `listening on <url>`. */
export function startListening(script: string, env: Record<string, string>, args: string[] = []): Promise<Started> {
  const child = npmRun(script, env, args);
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) {
        child.stdout!.off('data', onData);
        child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
        resolve({ child, url: match[1]!, output: () => out, stop: stopper(child) });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => reject(new Error(`npm run ${script} exited ${code} before listening:\n${out}`)));
  });
}

/** Runs `npm run <script>` to completion. */
export function runToEnd(script: string, env: Record<string, string>, args: string[] = []) {
  const child = npmRun(script, env, args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, stdout, stderr })),
  );
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 2xx. */
export async function waitFor(url: string, { timeoutMs = 60_000 } = {}): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`${url} did not come up in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
