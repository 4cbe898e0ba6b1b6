import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireFileLock } from './file-lock.ts';

let dir: string;
beforeEach(async () => void (dir = await mkdtemp(join(tmpdir(), 'edgerunner-lock-'))));
afterEach(() => rm(dir, { recursive: true, force: true }));

/** `n` callers take the lock at once, each holding it a moment: the most holders seen together. */
async function contend(path: string, n: number): Promise<number> {
  let holders = 0;
  let most = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      const lock = await acquireFileLock(path, { pollMs: 5 });
      most = Math.max(most, ++holders);
      await new Promise((resolve) => setTimeout(resolve, 5));
      holders--;
      await lock.release();
    }),
  );
  return most;
}

describe('acquireFileLock', () => {
  it('lets one holder in at a time and removes the file on release', async () => {
    const path = join(dir, 'f.lock');
    expect(await contend(path, 8)).toBe(1);
    await expect(readFile(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('breaks a stale lock once, however many waiters find it stale together', async () => {
    const path = join(dir, 'f.lock');
    await writeFile(path, JSON.stringify({ pid: 1, hostname: 'gone-machine', since: '', token: 'old' }));
    const old = new Date(Date.now() - 60_000);
    await utimes(path, old, old);
    expect(await contend(path, 8)).toBe(1);
  });

  it('waits on a half-written lock file until it is stale, not at once', async () => {
    const path = join(dir, 'f.lock');
    await writeFile(path, '');
    const waited: unknown[] = [];
    const stop = new AbortController();
    const pending = acquireFileLock(path, { pollMs: 5, signal: stop.signal, onWait: (h) => waited.push(h) });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(waited).toEqual([null]);
    stop.abort();
    await expect(pending).rejects.toThrow(/abort/i);
  });

  it('release leaves alone a lock that another process took over', async () => {
    const path = join(dir, 'f.lock');
    const lock = await acquireFileLock(path);
    const theirs = JSON.stringify({ pid: process.pid, hostname: hostname(), since: '', token: 'theirs' });
    await writeFile(path, theirs);
    await lock.release();
    expect(await readFile(path, 'utf8')).toBe(theirs);
  });
});
