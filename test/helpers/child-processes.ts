import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A child started in its own process group, so npm/tsx/wrangler grandchildren stop with it. */
export interface Child {
  name: string;
  process: ChildProcess;
  /** The last lines it wrote (stdout and stderr), for error messages. */
  tail(): string;
  exited: Promise<number | null>;
}

export interface StartOptions {
  name: string;
  command: string;
  args?: string[];
  /** Added to this process's environment. */
  env?: Record<string, string>;
  cwd?: string;
}

const started: Child[] = [];

/** Starts a command detached (its own process group); `stopAll()` stops it. */
export function start({ name, command, args = [], env = {}, cwd }: StartOptions): Child {
  const proc = spawn(command, args, {
    cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - 40));
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code) => resolve(code));
    proc.once('error', (err) => {
      lines.push(String(err));
      resolve(null);
    });
  });
  const child: Child = { name, process: proc, tail: () => lines.join('\n'), exited };
  started.push(child);
  return child;
}

/** Runs a command to completion and returns its stdout; throws with its output on failure or after `timeoutMs`. */
export async function runToEnd(options: StartOptions & { timeoutMs?: number }): Promise<string> {
  const child = start(options);
  let stdout = '';
  child.process.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const timer = setTimeout(() => void stop(child), options.timeoutMs ?? 60_000);
  const code = await child.exited.finally(() => clearTimeout(timer));
  if (code !== 0) throw new Error(`${options.name} exited with ${code}:\n${child.tail()}`);
  return stdout;
}

/** Resolves the URL from the child's `listening on http://…` line; throws if it exits or is silent too long. */
export function listeningUrl(child: Child, { timeoutMs = 30_000 } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(seen);
      if (match) done(() => resolve(match[1]!));
    };
    const timer = setTimeout(
      () => done(() => reject(failure(child, `not listening after ${timeoutMs} ms`))),
      timeoutMs,
    );
    void child.exited.then((code) => done(() => reject(failure(child, `exited with ${code} before listening`))));
    const done = (settle: () => void) => {
      clearTimeout(timer);
      child.process.stdout!.off('data', onData);
      settle();
    };
    child.process.stdout!.on('data', onData);
  });
}

/** Polls `url` until it answers 200; throws if `child` exits first or after `timeoutMs`. */
export async function untilOk(url: string, child: Child, { timeoutMs = 60_000 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw failure(child, 'exited before answering');
    const ok = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw failure(child, `${url} did not answer 200 within ${timeoutMs} ms`);
}

function failure(child: Child, what: string): Error {
  return new Error(`${child.name} ${what}; its last output:\n${child.tail()}`);
}

/** Stops a child's whole process group: SIGTERM, then SIGKILL after `graceMs`. */
export async function stop(child: Child, { graceMs = 3_000 } = {}): Promise<void> {
  if (!signalGroup(child, 'SIGTERM')) return;
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
  signalGroup(child, 'SIGKILL'); // grandchildren that outlived the group leader
}

/** Stops every child started, with whatever of its group is still running. */
export async function stopAll(): Promise<void> {
  await Promise.all(started.map((c) => stop(c)));
}

function signalGroup(child: Child, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-child.process.pid!, signal);
    return true;
  } catch {
    return false;
  }
}

/** On SIGINT/SIGTERM stop every child and exit 130; on any exit, SIGKILL what is left. */
export function stopChildrenOnExit(): void {
  const interrupted = () => void stopAll().finally(() => process.exit(130));
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  process.once('exit', () => started.forEach((c) => signalGroup(c, 'SIGKILL')));
}

/** A TCP port free on 127.0.0.1 now. */
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
