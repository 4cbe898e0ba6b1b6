import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import { startHubServer, type HubServer } from '../../test/helpers/hub-server.ts';
import { Downloads, resolveSource } from './downloader.ts';

const SIZE = 3 * 1024 * 1024;
const bytes = randomBytes(SIZE);
const sha256 = createHash('sha256').update(bytes).digest('hex');
const SOURCE = 'hf:acme/tiny/model.gguf';

let hub: HubServer;
let modelsDir: string;
let target: string;

beforeEach(async () => {
  hub = await startHubServer({ files: { 'acme/tiny/model.gguf': bytes } });
  modelsDir = await mkdtemp(join(tmpdir(), 'edgerunner-downloads-'));
  target = join(modelsDir, 'acme/tiny/model.gguf');
});

afterEach(async () => {
  await hub.close();
  await rm(modelsDir, { recursive: true, force: true });
});

const gets = () => hub.requests.filter((r) => r.method === 'GET');
const expectModelFile = async () => expect((await readFile(target)).equals(bytes)).toBe(true);
const sizeOf = async (path: string) => (await stat(path).catch(() => null))?.size;

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('resolveSource', () => {
  it('maps hf: sources onto the hub and a folder per repository', () => {
    expect(resolveSource('hf:owner/repo/path/file.gguf', { hfEndpoint: 'http://mirror/' })).toEqual({
      url: 'http://mirror/owner/repo/resolve/main/path/file.gguf',
      fileName: 'owner/repo/path/file.gguf',
    });
    expect(resolveSource('hf:o/r/f.gguf')).toMatchObject({ url: 'https://huggingface.co/o/r/resolve/main/f.gguf' });
  });

  it('keeps URLs as they are and stores them by host', () => {
    expect(resolveSource('https://example.com:8443/models/a%20b.gguf?x=1')).toEqual({
      url: 'https://example.com:8443/models/a%20b.gguf?x=1',
      fileName: '_urls/example.com_8443/models/a b.gguf',
    });
  });

  it('reads anything else as a local path, relative to modelsDir', () => {
    expect(resolveSource('/abs/m.gguf', { modelsDir: '/models' })).toEqual({ path: '/abs/m.gguf' });
    expect(resolveSource('sub/m.gguf', { modelsDir: '/models' })).toEqual({ path: '/models/sub/m.gguf' });
  });

  it('refuses sources that would leave MODELS_DIR', () => {
    expect(() => resolveSource('hf:owner/../../etc/passwd')).toThrow(AppError);
    expect(() => resolveSource('hf:owner/repo')).toThrow(/hf:owner\/repo\/file/);
    expect(() => resolveSource('https://h/a/%2F..%2Fx')).toThrow(AppError);
  });
});

describe('files already there', () => {
  it('answers exists without network', async () => {
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, bytes);
    const downloads = new Downloads({ modelsDir, hfEndpoint: hub.url });
    expect(await downloads.download('m', { source: SOURCE, size: SIZE })).toEqual({ path: target, status: 'exists' });
    expect(hub.requests).toEqual([]);
  });

  it('downloads again when the size is not the expected one', async () => {
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, 'truncated');
    const downloads = new Downloads({ modelsDir, hfEndpoint: hub.url });
    expect(await downloads.download('m', { source: SOURCE, size: SIZE })).toMatchObject({ status: 'completed' });
    await expectModelFile();
  });

  it('serves local sources as they are, 404 when missing', async () => {
    const local = join(modelsDir, 'local.gguf');
    await writeFile(local, 'x');
    const downloads = new Downloads({ modelsDir, hfEndpoint: hub.url });
    expect(await downloads.download('m', { source: 'local.gguf' })).toEqual({ path: local, status: 'exists' });
    expect((await rejection(downloads.download('m', { source: 'missing.gguf' }))).status).toBe(404);
  });
});

describe.each([
  ['undici', undefined],
  ['fetch', globalThis.fetch],
])('downloads through %s', (_transport, fetch) => {
  const downloads = () => new Downloads({ modelsDir, hfEndpoint: hub.url, fetch });

  it('completes with progress events ending at 1', async () => {
    const progress: number[] = [];
    const result = await downloads().download(
      'm',
      { source: SOURCE, size: SIZE, sha256 },
      {
        onProgress: (f) => progress.push(f),
      },
    );
    expect(result).toEqual({ path: target, status: 'completed' });
    await expectModelFile();
    expect(await sizeOf(`${target}.partial`)).toBeUndefined();
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.at(-1)).toBe(1);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(gets()).toEqual([expect.objectContaining({ path: '/acme/tiny/resolve/main/model.gguf', range: undefined })]);
  });

  it('resumes a dropped transfer with a Range request', async () => {
    const d = downloads();
    hub.setDropAfter(1024 * 1024);
    const err = await rejection(d.download('m', { source: SOURCE, sha256 }));
    expect(err.status).toBe(502);
    expect(err.message).toMatch(/resumes/);
    const partial = (await sizeOf(`${target}.partial`))!;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThanOrEqual(1024 * 1024);

    hub.setDropAfter(null);
    expect(await d.download('m', { source: SOURCE, sha256 })).toMatchObject({ status: 'completed' });
    expect(gets().at(-1)!.range).toBe(`bytes=${partial}-`);
    await expectModelFile();
  });

  it('follows the hub redirect, Range included', async () => {
    const d = downloads();
    hub.setRedirect(true);
    hub.setDropAfter(1024 * 1024);
    await rejection(d.download('m', { source: SOURCE, sha256 }));
    const partial = await sizeOf(`${target}.partial`);
    hub.setDropAfter(null);
    expect(await d.download('m', { source: SOURCE, sha256 })).toMatchObject({ status: 'completed' });
    expect(gets().map((r) => [r.path, r.range])).toEqual([
      ['/acme/tiny/resolve/main/model.gguf', undefined],
      ['/cdn/acme/tiny/model.gguf', undefined],
      ['/acme/tiny/resolve/main/model.gguf', `bytes=${partial}-`],
      ['/cdn/acme/tiny/model.gguf', `bytes=${partial}-`],
    ]);
    await expectModelFile();
  });

  it('starts over when the server ignores Range', async () => {
    await mkdir(dirname(target), { recursive: true });
    await writeFile(`${target}.partial`, randomBytes(1000));
    hub.setIgnoreRange(true);
    expect(await downloads().download('m', { source: SOURCE, sha256 })).toMatchObject({ status: 'completed' });
    expect(gets()[0]!.range).toBe('bytes=1000-');
    await expectModelFile();
  });

  it('finishes a partial that is already complete (416)', async () => {
    await mkdir(dirname(target), { recursive: true });
    await writeFile(`${target}.partial`, bytes);
    const progress: number[] = [];
    const result = await downloads().download('m', { source: SOURCE, sha256 }, { onProgress: (f) => progress.push(f) });
    expect(result).toMatchObject({ status: 'completed' });
    expect(gets()[0]!.range).toBe(`bytes=${SIZE}-`);
    expect(progress).toEqual([1]);
    await expectModelFile();
  });

  it('deletes a file whose sha256 does not match', async () => {
    const wrong = '0'.repeat(64);
    const err = await rejection(downloads().download('m', { source: SOURCE, sha256: wrong }));
    expect(err.status).toBe(502);
    expect(err.message).toContain(`expected ${wrong}, actual ${sha256}`);
    expect(await sizeOf(target)).toBeUndefined();
    expect(await sizeOf(`${target}.partial`)).toBeUndefined();
  });

  it('deletes a file whose size does not match', async () => {
    const err = await rejection(downloads().download('m', { source: SOURCE, size: SIZE + 1 }));
    expect(err.message).toContain(`expected ${SIZE + 1} bytes, got ${SIZE}`);
    expect(await sizeOf(`${target}.partial`)).toBeUndefined();
  });

  it('shares one transfer between concurrent callers', async () => {
    const d = downloads();
    const a: number[] = [];
    const b: number[] = [];
    const results = await Promise.all([
      d.download('m', { source: SOURCE }, { onProgress: (f) => a.push(f) }),
      d.download('m', { source: SOURCE }, { onProgress: (f) => b.push(f) }),
    ]);
    expect(results).toEqual([
      { path: target, status: 'completed' },
      { path: target, status: 'completed' },
    ]);
    expect(gets()).toHaveLength(1);
    expect(a.length).toBeGreaterThan(1);
    expect(b).toEqual(a);
  });

  it('keeps the transfer going when one of two callers aborts', async () => {
    const d = downloads();
    const quitter = new AbortController();
    const first = d.download('m', { source: SOURCE }, { signal: quitter.signal, onProgress: () => quitter.abort() });
    const second = d.download('m', { source: SOURCE });
    await expect(first).rejects.toThrow(/abort/i);
    expect(await second).toEqual({ path: target, status: 'completed' });
    expect(gets()).toHaveLength(1);
    await expectModelFile();
  });

  it('stops when every caller aborted, leaving the partial for a later resume', async () => {
    const d = downloads();
    const callers = [new AbortController(), new AbortController()];
    const stopAll = (f: number) => f > 0.2 && callers.forEach((c) => c.abort());
    const pending = callers.map((c) =>
      d.download('m', { source: SOURCE }, { signal: c.signal, onProgress: stopAll }).then(
        () => 'done',
        (e: Error) => e.name,
      ),
    );
    expect(await Promise.all(pending)).toEqual(['AbortError', 'AbortError']);
    const partial = (await sizeOf(`${target}.partial`))!;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(SIZE);
    expect(await sizeOf(target)).toBeUndefined();

    expect(await d.download('m', { source: SOURCE, sha256 })).toMatchObject({ status: 'completed' });
    expect(gets().at(-1)!.range).toBe(`bytes=${partial}-`);
    await expectModelFile();
  });

  it('answers 404 when the hub has no such file', async () => {
    const err = await rejection(downloads().download('m', { source: 'hf:acme/tiny/missing.gguf' }));
    expect(err.status).toBe(404);
    expect(err.message).toContain('answered 404');
  });

  it('rejects a caller whose signal is already aborted, without network', async () => {
    const signal = AbortSignal.abort();
    await expect(downloads().download('m', { source: SOURCE }, { signal })).rejects.toThrow(/abort/i);
    expect(hub.requests).toEqual([]);
  });
});

describe.each([
  ['undici', undefined],
  ['fetch', globalThis.fetch],
])('verified by default through %s, with the hub’s X-Linked-Size and X-Linked-Etag', (_transport, fetch) => {
  const downloads = () => new Downloads({ modelsDir, hfEndpoint: hub.url, fetch });
  const tampered = Buffer.from(bytes);
  tampered[SIZE >> 1]! ^= 1;

  it.each([false, true])('deletes a file whose bytes are not the hub’s sha256 (redirect: %s)', async (redirect) => {
    hub.setRedirect(redirect);
    hub.setServed('acme/tiny/model.gguf', tampered);
    const err = await rejection(downloads().download('m', { source: SOURCE }));
    expect(err.status).toBe(502);
    expect(err.message).toContain(`expected ${sha256} (the hub’s X-Linked-Etag), actual`);
    expect(await sizeOf(target)).toBeUndefined();
    expect(await sizeOf(`${target}.partial`)).toBeUndefined();

    hub.setServed('acme/tiny/model.gguf', null);
    expect(await downloads().download('m', { source: SOURCE })).toMatchObject({ status: 'completed' });
    await expectModelFile();
  });

  it('deletes a file shorter than the hub’s size', async () => {
    hub.setRedirect(true);
    hub.setServed('acme/tiny/model.gguf', bytes.subarray(0, SIZE - 10));
    const err = await rejection(downloads().download('m', { source: SOURCE }));
    expect(err.message).toContain(`expected ${SIZE} bytes (the hub’s X-Linked-Size), got ${SIZE - 10}`);
    expect(await sizeOf(`${target}.partial`)).toBeUndefined();
  });

  it('hashes what an earlier transfer left too', async () => {
    await mkdir(dirname(target), { recursive: true });
    await writeFile(`${target}.partial`, randomBytes(1000));
    const err = await rejection(downloads().download('m', { source: SOURCE }));
    expect(gets()[0]!.range).toBe('bytes=1000-');
    expect(err.message).toContain('X-Linked-Etag');
    expect(await sizeOf(`${target}.partial`)).toBeUndefined();

    // A partial that is a true prefix resumes and passes.
    await writeFile(`${target}.partial`, bytes.subarray(0, 1000));
    expect(await downloads().download('m', { source: SOURCE })).toMatchObject({ status: 'completed' });
    await expectModelFile();
  });

  it('takes a file without X-Linked headers as sent (nothing to check it against)', async () => {
    const plain = await startHubServer({ files: { 'acme/tiny/model.gguf': tampered }, lfs: false });
    try {
      const d = new Downloads({ modelsDir, hfEndpoint: plain.url, fetch });
      expect(await d.download('m', { source: SOURCE })).toMatchObject({ status: 'completed' });
    } finally {
      await plain.close();
    }
  });
});

describe('one download of a file at a time, across processes', () => {
  const lockFile = () => `${target}.partial.lock`;
  const exitedPid = async () => {
    const child = spawn(process.execPath, ['-e', '']);
    await once(child, 'exit');
    return child.pid!;
  };
  const writeLock = async (pid: number, host = hostname()) => {
    await mkdir(dirname(target), { recursive: true });
    await writeFile(lockFile(), JSON.stringify({ pid, hostname: host, since: new Date().toISOString(), token: 'x' }));
  };

  it('a second downloader waits for the first, then finds the file in place', async () => {
    const waits: string[] = [];
    const first = new Downloads({ modelsDir, hfEndpoint: hub.url });
    const second = new Downloads({ modelsDir, hfEndpoint: hub.url, onLockWait: (name) => waits.push(name) });
    let pending: Promise<unknown> | undefined;
    const a = first.download(
      'm',
      { source: SOURCE },
      { onProgress: () => void (pending ??= second.download('m', { source: SOURCE })) },
    );
    expect(await a).toEqual({ path: target, status: 'completed' });
    expect(await pending).toEqual({ path: target, status: 'exists' });
    expect(waits).toEqual(['m']);
    expect(gets()).toHaveLength(1);
    await expectModelFile();
    expect(await sizeOf(lockFile())).toBeUndefined();
  });

  it('waits while a live process holds the lock; an abort stops the wait; its exit frees it', async () => {
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      await writeLock(holder.pid!);
      const stop = new AbortController();
      const d = new Downloads({ modelsDir, hfEndpoint: hub.url, onLockWait: () => stop.abort() });
      await expect(d.download('m', { source: SOURCE }, { signal: stop.signal })).rejects.toThrow(/abort/i);
      expect(hub.requests).toEqual([]);

      const later = d.download('m', { source: SOURCE });
      holder.kill();
      expect(await later).toMatchObject({ status: 'completed' });
      await expectModelFile();
      expect(await sizeOf(lockFile())).toBeUndefined();
    } finally {
      holder.kill();
    }
  });

  it('takes over a lock whose process is gone, or one not refreshed for 30 s from another machine', async () => {
    await writeLock(await exitedPid());
    const d = new Downloads({ modelsDir, hfEndpoint: hub.url });
    expect(await d.download('m', { source: SOURCE })).toMatchObject({ status: 'completed' });
    await expectModelFile();

    await rm(target);
    await writeLock(process.pid, 'another-machine');
    const old = new Date(Date.now() - 31_000);
    await utimes(lockFile(), old, old);
    expect(await d.download('m', { source: SOURCE })).toMatchObject({ status: 'completed' });
    expect(await sizeOf(lockFile())).toBeUndefined();
  });
});

describe('HF_TOKEN', () => {
  it('is sent to the hub', async () => {
    const gated = await startHubServer({ files: { 'acme/gated/m.gguf': bytes }, token: 'hf_secret' });
    try {
      const downloads = new Downloads({ modelsDir, hfEndpoint: gated.url, hfToken: 'hf_secret' });
      expect(await downloads.download('m', { source: 'hf:acme/gated/m.gguf' })).toMatchObject({ status: 'completed' });
      expect(gated.requests[0]!.authorization).toBe('Bearer hf_secret');

      const anonymous = new Downloads({ modelsDir, hfEndpoint: gated.url });
      const err = await rejection(anonymous.download('m', { source: 'hf:acme/gated/other.gguf' }));
      expect(err.status).toBe(502);
      expect(err.message).toMatch(/answered 401.*HF_TOKEN/);
    } finally {
      await gated.close();
    }
  });

  it('is not sent to other hosts', async () => {
    const downloads = new Downloads({ modelsDir, hfToken: 'hf_secret' });
    const source = `${hub.url}acme/tiny/resolve/main/model.gguf`;
    expect(await downloads.download('m', { source })).toMatchObject({ status: 'completed' });
    expect(hub.requests[0]!.authorization).toBeUndefined();
  });
});
