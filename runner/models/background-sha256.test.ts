import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { BackgroundSha256 } from './background-sha256.ts';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgerunner-sha256-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, size: number): Promise<{ path: string; sha256: string }> {
  const bytes = randomBytes(size);
  const path = join(dir, name);
  await writeFile(path, bytes);
  return { path, sha256: createHash('sha256').update(bytes).digest('hex') };
}

it('hashes several files at once in the one worker, each job failing alone', async () => {
  const a = await file('a', 3 << 20);
  const b = await file('b', 1 << 20);
  const [ha, hb, hc] = [new BackgroundSha256(a.path), new BackgroundSha256(b.path), new BackgroundSha256(b.path)];
  ha.upTo(1 << 20);
  hb.upTo(1 << 20);
  const short = hc.digest((1 << 20) + 1);
  expect(await Promise.all([ha.digest(3 << 20), hb.digest(1 << 20)])).toEqual([a.sha256, b.sha256]);
  await expect(short).rejects.toThrow(`Cannot hash ${b.path}: ${b.path} ends at ${1 << 20} bytes`);
  await Promise.all([ha.dispose(), hb.dispose(), hc.dispose()]);

  // A job given up midway leaves the worker to the next one.
  new BackgroundSha256(a.path).upTo(3 << 20);
  const again = new BackgroundSha256(a.path);
  expect(await again.digest(3 << 20)).toBe(a.sha256);
  await again.dispose();
});
