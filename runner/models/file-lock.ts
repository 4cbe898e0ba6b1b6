import { randomUUID } from 'node:crypto';
import { readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/** Who holds a lock, as its lock file says. */
export interface LockHolder {
  pid: number;
  hostname: string;
  /** ISO time the lock was taken. */
  since: string;
}

export interface FileLockOptions {
  /**
   * A lock whose file was not refreshed for this long is stale (its holder is gone or on another machine and
   * stuck); the holder refreshes it every third of it. A lock held by a process of this machine that no longer
   * exists is stale at once. Default 30 s.
   */
  staleMs?: number;
  /** How often a waiter looks again; default 250 ms. */
  pollMs?: number;
  /** Stops waiting (rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Called once when the lock is held by someone else and the caller starts waiting. */
  onWait?: (holder: LockHolder | null) => void;
}

/** A held lock. */
export interface FileLock {
  /** Removes the lock file (unless another process took it over as stale). */
  release(): Promise<void>;
}

interface LockFile extends LockHolder {
  token: string;
}

/**
 * Takes the lock file `path` (created with O_EXCL, holding pid, hostname and a token), waiting while another
 * live holder has it. Works across processes that share the folder; within one process too.
 */
export async function acquireFileLock(
  path: string,
  { staleMs = 30_000, pollMs = 250, signal, onWait }: FileLockOptions = {},
): Promise<FileLock> {
  let told = false;
  for (;;) {
    signal?.throwIfAborted();
    const mine: LockFile = {
      pid: process.pid,
      hostname: hostname(),
      since: new Date().toISOString(),
      token: randomUUID(),
    };
    try {
      await writeFile(path, JSON.stringify(mine), { flag: 'wx' });
      return held(path, mine, staleMs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const seen = await readLock(path);
    if (seen === undefined) continue; // released in between
    if (await isStale(path, seen.holder, staleMs)) {
      await breakStale(path, seen.raw, staleMs);
      continue;
    }
    if (!told) {
      told = true;
      onWait?.(seen.holder);
    }
    await sleep(pollMs, undefined, { signal });
  }
}

function held(path: string, mine: LockFile, staleMs: number): FileLock {
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => {});
  }, staleMs / 3);
  heartbeat.unref();
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      const seen = await readLock(path);
      if (seen?.holder && (seen.holder as LockFile).token === mine.token) await rm(path, { force: true });
    },
  };
}

/** The lock file's text and what it says (null while its writer has not written it yet); undefined when gone. */
async function readLock(path: string): Promise<{ raw: string; holder: LockHolder | null } | undefined> {
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const parsed = JSON.parse(raw) as Partial<LockFile>;
    if (typeof parsed.pid === 'number' && typeof parsed.hostname === 'string')
      return { raw, holder: parsed as LockFile };
  } catch {
    // written halfway, or not ours: only its age can tell
  }
  return { raw, holder: null };
}

async function isStale(path: string, holder: LockHolder | null, staleMs: number): Promise<boolean> {
  if (holder && holder.hostname === hostname() && !processAlive(holder.pid)) return true;
  const found = await stat(path).catch(() => null);
  return found !== null && Date.now() - found.mtimeMs > staleMs;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes a stale lock whose text was `raw`. Two waiters may judge it stale at once: under a second lock
 * (`.break`), each removes it only if it still holds that same text, so none removes a lock just taken anew.
 */
async function breakStale(path: string, raw: string, staleMs: number): Promise<void> {
  const breaker = `${path}.break`;
  try {
    await writeFile(breaker, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Another waiter is breaking it; a breaker left behind by a crash goes once it is old.
    const found = await stat(breaker).catch(() => null);
    if (found && Date.now() - found.mtimeMs > staleMs) await rm(breaker, { force: true });
    else await sleep(10);
    return;
  }
  try {
    if ((await readLock(path))?.raw === raw) await rm(path, { force: true });
  } finally {
    await rm(breaker, { force: true });
  }
}
