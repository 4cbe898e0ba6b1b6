import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import { Agent, request } from 'undici';
import { AppError } from '../../shared/errors.ts';
import { BackgroundSha256 } from './background-sha256.ts';
import { DEFAULT_HF_ENDPOINT, resolveSource } from './model-source.ts';
import { acquireFileLock, type LockHolder } from './file-lock.ts';

export { DEFAULT_HF_ENDPOINT, resolveSource, type ResolvedSource } from './model-source.ts';

export interface DownloadEntry {
  source: string;
  /** Expected size in bytes; default the hub's `X-Linked-Size` (LFS files), else the response's length. */
  size?: number;
  /** Expected SHA-256 (hex); default the hub's `X-Linked-Etag` (LFS files), else none. */
  sha256?: string;
}

export interface DownloadOptions {
  /** Overrides the hub given to the constructor. */
  hfEndpoint?: string;
  /** Detaches this caller; the transfer stops once every caller has aborted, keeping the `.partial`. */
  signal?: AbortSignal;
  /** Fraction done (0..1), at most every 1% or 100 ms, ending with 1 once the file is verified and in place. */
  onProgress?: (fraction: number) => void;
  /** False: a file not on disk (nor being downloaded) is a 403 instead of a download; default true. */
  download?: boolean;
}

export interface DownloadResult {
  path: string;
  status: 'exists' | 'completed';
}

export interface DownloadsOptions {
  modelsDir: string;
  /** Sent as `Authorization: Bearer` to URLs on the hub only. */
  hfToken?: string;
  /** Hub base URL ending with `/`; default `https://huggingface.co/`. */
  hfEndpoint?: string;
  /**
   * Transfers go through this `fetch` when given. Default: undici's request API on a keep-alive agent that
   * follows redirects (dropping `Authorization` across origins, as fetch does), which streams to disk faster
   * than Node's `fetch` and its web streams. Redirects are followed by the downloader either way.
   */
  fetch?: typeof globalThis.fetch;
  /** Called when another process (or Downloads) is downloading the same file and this one waits for it. */
  onLockWait?: (name: string, holder: LockHolder | null) => void;
}

/** One HTTP response, as the downloader reads it. */
interface Upstream {
  status: number;
  header(name: string): string | undefined;
  body: Readable;
}

type Open = (url: string, headers: Record<string, string>, signal: AbortSignal) => Promise<Upstream>;

function openWithFetch(fetch: typeof globalThis.fetch): Open {
  return async (url, headers, signal) => {
    const response = await fetch(url, { headers, signal, redirect: 'manual' });
    const body = response.body as NodeReadableStream<Uint8Array> | null;
    return {
      status: response.status,
      header: (name) => response.headers.get(name) ?? undefined,
      body: body ? Readable.fromWeb(body) : Readable.from([]),
    };
  };
}

function openWithUndici(): Open {
  const dispatcher = new Agent({ keepAliveTimeout: 10_000 });
  return async (url, headers, signal) => {
    const response = await request(url, { headers, signal, dispatcher });
    return {
      status: response.statusCode,
      header: (name) => [response.headers[name] ?? []].flat()[0],
      body: response.body,
    };
  };
}

/** What the hub says of an LFS file on its `resolve` answer (the redirect to its storage). */
interface Linked {
  size?: number;
  sha256?: string;
}

type Answer = Upstream & { linked: Linked };

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

interface Job {
  readonly name: string;
  readonly entry: DownloadEntry;
  readonly url: string;
  readonly path: string;
  readonly withToken: boolean;
}

/**
 * Fetches remote model files into MODELS_DIR (layout: see {@link resolveSource}); one per process.
 * Bytes go to `<file>.partial`, renamed once complete and verified; an interrupted transfer resumes with a
 * Range request on the next call. Concurrent calls for one file share one transfer and its progress; the
 * transfer stops only when every caller has aborted. Another process downloading the same file (`npm run
 * pull` beside the server) holds `<file>.partial.lock`: this one waits for it, then finds the file in place.
 * Every download is checked against the catalog's size and sha256, else the hub's `X-Linked-Size` and
 * `X-Linked-Etag`; the hash is computed in a worker thread.
 */
export class Downloads {
  readonly #modelsDir: string;
  readonly #hfToken: string | undefined;
  readonly #hfEndpoint: string;
  readonly #open: Open;
  readonly #transfers = new Map<string, Transfer>();
  readonly #onLockWait: DownloadsOptions['onLockWait'];

  constructor({ modelsDir, hfToken, hfEndpoint = DEFAULT_HF_ENDPOINT, fetch, onLockWait }: DownloadsOptions) {
    this.#onLockWait = onLockWait;
    this.#modelsDir = modelsDir;
    this.#hfToken = hfToken;
    this.#hfEndpoint = hfEndpoint;
    this.#open = fetch ? openWithFetch(fetch) : openWithUndici();
  }

  /**
   * The file for `entry`, downloaded when missing. A file already in place (of the expected size, when known)
   * is `exists` with no network; a local source must exist (else 404). Upstream failures are AppError 502
   * (404 when the hub has no such file); a size or checksum mismatch deletes the file and throws 502.
   */
  async download(
    name: string,
    entry: DownloadEntry,
    { hfEndpoint = this.#hfEndpoint, signal, onProgress, download = true }: DownloadOptions = {},
  ): Promise<DownloadResult> {
    signal?.throwIfAborted();
    const source = resolveSource(entry.source, { hfEndpoint, modelsDir: this.#modelsDir });
    if ('path' in source) {
      if ((await stat(source.path).catch(() => null))?.isFile()) return { path: source.path, status: 'exists' };
      throw new AppError(404, `Model file for ${name} not found at ${source.path}`, { code: 'model_file_missing' });
    }
    const path = join(this.#modelsDir, source.fileName);
    if (!this.#active(path)) {
      const found = await stat(path).catch(() => null);
      if (found?.isFile() && (entry.size === undefined || found.size === entry.size)) return { path, status: 'exists' };
      signal?.throwIfAborted();
      if (!download) {
        throw new AppError(
          403,
          `Model ${name} is not downloaded, and downloading it needs the admin scope: an admin loads it with ` +
            `POST /v1/models/${name}/load (or npm run pull -- ${name})`,
          { code: 'model_not_downloaded' },
        );
      }
    }
    const withToken = this.#hfToken !== undefined && source.url.startsWith(hfEndpoint);
    const transfer = this.#active(path) ?? this.#start({ name, entry, url: source.url, path, withToken });
    return transfer.attach(signal, onProgress);
  }

  #active(path: string): Transfer | undefined {
    const transfer = this.#transfers.get(path);
    return transfer && !transfer.settled && !transfer.abandoned ? transfer : undefined;
  }

  #start(job: Job): Transfer {
    const previous = this.#transfers.get(job.path)?.done;
    const transfer = new Transfer(async (signal, progress) => {
      await previous;
      return this.#fetchToFile(job, signal, progress);
    });
    this.#transfers.set(job.path, transfer);
    void transfer.done.then(() => {
      if (this.#transfers.get(job.path) === transfer) this.#transfers.delete(job.path);
    });
    return transfer;
  }

  async #fetchToFile(job: Job, signal: AbortSignal, progress: (fraction: number) => void): Promise<DownloadResult> {
    const { name, entry, path } = job;
    const partial = `${path}.partial`;
    await mkdir(dirname(path), { recursive: true });
    const lock = await acquireFileLock(`${partial}.lock`, {
      signal,
      onWait: (holder) => this.#onLockWait?.(name, holder),
    });
    try {
      // Whoever held the lock may have finished the file.
      const found = await stat(path).catch(() => null);
      if (found?.isFile() && (entry.size === undefined || found.size === entry.size)) {
        progress(1);
        return { path, status: 'exists' };
      }
      return await this.#transfer(job, partial, signal, progress);
    } finally {
      await lock.release();
    }
  }

  async #transfer(
    job: Job,
    partial: string,
    signal: AbortSignal,
    progress: (fraction: number) => void,
  ): Promise<DownloadResult> {
    const { name, entry, url, path } = job;
    let offset = (await stat(partial).catch(() => null))?.size ?? 0;
    if (entry.size !== undefined && offset > entry.size) offset = await truncate(partial);

    let response = await this.#request(job, offset, signal);
    if (response.status === 416) {
      discard(response);
      if (offset > 0 && rangeTotal(response.header('content-range')) === offset)
        response = { ...complete(offset), linked: response.linked };
      else response = await this.#request(job, (offset = await truncate(partial)), signal);
    } else if (response.status === 206 && rangeStart(response.header('content-range')) !== offset) {
      discard(response);
      response = await this.#request(job, (offset = await truncate(partial)), signal);
    }
    if (response.status !== 200 && response.status !== 206) {
      discard(response);
      throw upstreamError(name, url, response.status);
    }
    if (response.status === 200) offset = 0;

    const size = entry.size ?? response.linked.size;
    const sha256 = entry.sha256?.toLowerCase() ?? response.linked.sha256;
    const length = Number(response.header('content-length') ?? NaN);
    const total =
      rangeTotal(response.header('content-range')) ?? (Number.isFinite(length) ? offset + length : (size ?? offset));
    const hasher = sha256 ? new BackgroundSha256(partial) : null;
    try {
      hasher?.upTo(offset);
      const received = await this.#receive(job, response, partial, offset, total, signal, progress, hasher);
      if (size !== undefined && received !== size) {
        await rm(partial, { force: true });
        const from = entry.size === undefined ? ' (the hub’s X-Linked-Size)' : '';
        const message = `Download of ${name} from ${url}: expected ${size} bytes${from}, got ${received}; deleted`;
        throw new AppError(502, message, { code: 'download_size_mismatch' });
      }
      const actual = await hasher?.digest(received);
      if (actual !== undefined && actual !== sha256) {
        await rm(partial, { force: true });
        const from = entry.sha256 === undefined ? ' (the hub’s X-Linked-Etag)' : '';
        const message = `sha256 mismatch for ${name} from ${url}: expected ${sha256}${from}, actual ${actual}; deleted`;
        throw new AppError(502, message, { code: 'checksum_mismatch' });
      }
    } finally {
      await hasher?.dispose();
    }
    await rename(partial, path);
    progress(1);
    return { path, status: 'completed' };
  }

  /** Appends the body to the partial file; the bytes now in it. */
  async #receive(
    { name, url }: Job,
    response: Upstream,
    partial: string,
    offset: number,
    total: number,
    signal: AbortSignal,
    progress: (fraction: number) => void,
    hasher: BackgroundSha256 | null,
  ): Promise<number> {
    let received = offset;
    let failure: unknown = null;
    let told = offset;
    const report = progressMeter(total, progress);
    const file = createWriteStream(partial, { flags: offset > 0 ? 'a' : 'w', highWaterMark: 8 << 20 });
    async function* counted(body: AsyncIterable<Buffer>) {
      try {
        for await (const chunk of body) {
          received += chunk.byteLength;
          report(received);
          // What is on disk already can be hashed while the rest arrives.
          if (hasher && received - told >= HASH_AHEAD) hasher.upTo((told = offset + file.bytesWritten));
          yield chunk;
        }
      } catch (err) {
        failure = err;
      }
    }
    try {
      // A broken or aborted body ends the file cleanly, so every byte received is kept for the resume.
      await pipeline(counted(response.body), file);
    } catch (err) {
      throw new AppError(500, `Cannot write ${partial}: ${(err as Error).message}`, { cause: err });
    }
    if (failure) {
      if (signal.aborted) throw signal.reason;
      const message = `Download of ${name} from ${url} broke off after ${received} bytes; it resumes on the next load`;
      throw new AppError(502, message, { code: 'download_failed', cause: failure });
    }
    if (received < total)
      throw new AppError(502, `Download of ${name} from ${url} ended after ${received} of ${total} bytes`, {
        code: 'download_failed',
      });
    return received;
  }

  /** GETs the job's URL from `offset`, following redirects (the token only to the hub's origin). */
  async #request(job: Job, offset: number, signal: AbortSignal): Promise<Answer> {
    const linked: Linked = {};
    let url = job.url;
    let withToken = job.withToken;
    for (let hops = 0; ; hops++) {
      const response = await this.#get(job.name, url, offset, withToken, signal);
      readLinked(response, linked);
      const location = response.header('location');
      if (!REDIRECTS.has(response.status) || !location) return { ...response, linked };
      discard(response);
      if (hops === MAX_REDIRECTS)
        throw new AppError(
          502,
          `Download of ${job.name} failed: more than ${MAX_REDIRECTS} redirects from ${job.url}`,
          {
            code: 'download_failed',
          },
        );
      const next = new URL(location, url);
      if (next.origin !== new URL(url).origin) withToken = false;
      url = next.href;
    }
  }

  async #get(name: string, url: string, offset: number, withToken: boolean, signal: AbortSignal): Promise<Upstream> {
    const headers: Record<string, string> = {};
    if (offset > 0) headers.range = `bytes=${offset}-`;
    if (withToken) headers.authorization = `Bearer ${this.#hfToken}`;
    try {
      return await this.#open(url, headers, signal);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw new AppError(502, `Download of ${name} failed: cannot reach ${url}: ${(err as Error).message}`, {
        code: 'download_failed',
        cause: err,
      });
    }
  }
}

// Hash behind the writer in steps of this many bytes.
const HASH_AHEAD = 16 << 20;

/** The hub's `X-Linked-Size` and `X-Linked-Etag` (an LFS file's sha256, quoted), when a hop sends them. */
function readLinked(response: Upstream, linked: Linked): void {
  const size = Number(response.header('x-linked-size') ?? NaN);
  if (Number.isSafeInteger(size) && size >= 0) linked.size = size;
  const etag = response.header('x-linked-etag')?.replace(/^W\//, '').replace(/"/g, '').trim().toLowerCase();
  if (etag && /^[0-9a-f]{64}$/.test(etag)) linked.sha256 = etag;
}

function discard({ body }: Upstream): void {
  body.on('error', () => {});
  body.destroy();
}

function complete(size: number): Upstream {
  const headers: Record<string, string> = { 'content-range': `bytes */${size}` };
  return { status: 206, header: (name) => headers[name], body: Readable.from([]) };
}

function upstreamError(name: string, url: string, status: number): AppError {
  if (status === 404)
    return new AppError(404, `Model file for ${name} not found: ${url} answered 404`, { code: 'model_file_missing' });
  const hint = status === 401 || status === 403 ? ' (a gated or private model needs HF_TOKEN)' : '';
  return new AppError(502, `Download of ${name} failed: ${url} answered ${status}${hint}`, { code: 'download_failed' });
}

async function truncate(partial: string): Promise<0> {
  await rm(partial, { force: true });
  return 0;
}

function rangeStart(header: string | undefined): number | undefined {
  const match = header && /^bytes (\d+)-/.exec(header);
  return match ? Number(match[1]) : undefined;
}

function rangeTotal(header: string | undefined): number | undefined {
  const match = header && /\/(\d+)\s*$/.exec(header);
  return match ? Number(match[1]) : undefined;
}

function progressMeter(total: number, emit: (fraction: number) => void): (received: number) => void {
  let last = 0;
  let lastAt = performance.now();
  return (received) => {
    if (received >= total) return;
    const fraction = received / total;
    const now = performance.now();
    if (fraction - last < 0.01 && now - lastAt < 100) return;
    last = fraction;
    lastAt = now;
    emit(fraction);
  };
}

interface Subscriber {
  onProgress: ((fraction: number) => void) | undefined;
  settle(result: DownloadResult | null, err?: unknown): void;
}

/** One transfer and the callers attached to it; it is aborted when the last one leaves. */
class Transfer {
  readonly done: Promise<void>;
  settled = false;
  readonly #controller = new AbortController();
  readonly #subscribers = new Set<Subscriber>();
  #fraction: number | null = null;

  constructor(work: (signal: AbortSignal, progress: (fraction: number) => void) => Promise<DownloadResult>) {
    this.done = work(this.#controller.signal, (fraction) => this.#progress(fraction)).then(
      (result) => this.#settle(result),
      (err: unknown) => this.#settle(null, err),
    );
  }

  get abandoned(): boolean {
    return this.#controller.signal.aborted;
  }

  attach(
    signal: AbortSignal | undefined,
    onProgress: ((fraction: number) => void) | undefined,
  ): Promise<DownloadResult> {
    return new Promise((resolve, reject) => {
      const onAbort = () => this.#leave(subscriber, signal!.reason);
      const subscriber: Subscriber = {
        onProgress,
        settle: (result, err) => {
          signal?.removeEventListener('abort', onAbort);
          if (result) resolve(result);
          else reject(err);
        },
      };
      this.#subscribers.add(subscriber);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (this.#fraction !== null) this.#tell(subscriber, this.#fraction);
    });
  }

  #leave(subscriber: Subscriber, reason: unknown): void {
    if (!this.#subscribers.delete(subscriber)) return;
    if (this.#subscribers.size > 0) return subscriber.settle(null, reason);
    this.#controller.abort(reason);
    void this.done.then(() => subscriber.settle(null, reason));
  }

  #tell(subscriber: Subscriber, fraction: number): void {
    try {
      subscriber.onProgress?.(fraction);
    } catch (err) {
      this.#leave(subscriber, err);
    }
  }

  #progress(fraction: number): void {
    this.#fraction = fraction;
    for (const subscriber of [...this.#subscribers]) this.#tell(subscriber, fraction);
  }

  #settle(result: DownloadResult | null, err?: unknown): void {
    this.settled = true;
    for (const subscriber of this.#subscribers) subscriber.settle(result, err);
    this.#subscribers.clear();
  }
}
