import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import { Agent, interceptors, request } from 'undici';
import { AppError } from '../../shared/errors.ts';

/** The hub used when HF_ENDPOINT is not set. */
export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co/';

/** A remote source (`url`, stored as `fileName` under MODELS_DIR) or a local file. */
export type ResolvedSource = { url: string; fileName: string } | { path: string };

export interface ResolveSourceOptions {
  /** Hub base URL ending with `/`; default `https://huggingface.co/`. */
  hfEndpoint?: string;
  /** What relative local paths are resolved against; default the working directory. */
  modelsDir?: string;
}

/**
 * Where a catalog `source` is fetched from and stored:
 * - `hf:owner/repo/path/file` → `{hfEndpoint}owner/repo/resolve/main/path/file`, stored as `owner/repo/path/file`
 *   (one folder per repository, the layout transformers.js reads as `localModelPath`);
 * - `http(s)://host[:port]/path/file` → the URL as is, stored as `_urls/host[_port]/path/file`;
 * - anything else → a local path, absolute or relative to `modelsDir`.
 */
export function resolveSource(
  source: string,
  { hfEndpoint = DEFAULT_HF_ENDPOINT, modelsDir = '.' }: ResolveSourceOptions = {},
): ResolvedSource {
  if (source.startsWith('hf:')) {
    const parts = source.slice(3).split('/');
    if (parts.length < 3) throw badSource(source, 'expected hf:owner/repo/file');
    checkSegments(source, parts);
    const [owner, repo, ...file] = parts.map(encodeURIComponent);
    return { url: `${hfEndpoint}${owner}/${repo}/resolve/main/${file.join('/')}`, fileName: parts.join('/') };
  }
  if (/^https?:\/\//i.test(source)) {
    const url = URL.parse(source);
    if (!url) throw badSource(source, 'not a valid URL');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeSegment);
    if (!parts.length) throw badSource(source, 'the URL names no file');
    checkSegments(source, parts);
    return { url: source, fileName: ['_urls', url.host.replace(':', '_'), ...parts].join('/') };
  }
  return { path: isAbsolute(source) ? source : resolve(modelsDir, source) };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function checkSegments(source: string, parts: string[]): void {
  for (const part of parts)
    if (part === '' || part === '.' || part === '..' || /[/\\\0]/.test(part))
      throw badSource(source, `invalid path segment "${part}"`);
}

function badSource(source: string, why: string): AppError {
  return new AppError(500, `Model source ${source}: ${why}`, { code: 'invalid_model_source' });
}

export interface DownloadEntry {
  source: string;
  /** Expected size in bytes, checked when known. */
  size?: number;
  /** Expected SHA-256 (hex), checked when known. */
  sha256?: string;
}

export interface DownloadOptions {
  /** Overrides the hub given to the constructor. */
  hfEndpoint?: string;
  /** Detaches this caller; the transfer stops once every caller has aborted, keeping the `.partial`. */
  signal?: AbortSignal;
  /** Fraction done (0..1), at most every 1% or 100 ms, ending with 1 once the file is verified and in place. */
  onProgress?: (fraction: number) => void;
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
   * than Node's `fetch` and its web streams.
   */
  fetch?: typeof globalThis.fetch;
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
    const response = await fetch(url, { headers, signal });
    const body = response.body as NodeReadableStream<Uint8Array> | null;
    return {
      status: response.status,
      header: (name) => response.headers.get(name) ?? undefined,
      body: body ? Readable.fromWeb(body) : Readable.from([]),
    };
  };
}

function openWithUndici(): Open {
  const dispatcher = new Agent({ keepAliveTimeout: 10_000 }).compose(interceptors.redirect({ maxRedirections: 10 }));
  return async (url, headers, signal) => {
    const response = await request(url, { headers, signal, dispatcher });
    return {
      status: response.statusCode,
      header: (name) => [response.headers[name] ?? []].flat()[0],
      body: response.body,
    };
  };
}

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
 * transfer stops only when every caller has aborted.
 */
export class Downloads {
  readonly #modelsDir: string;
  readonly #hfToken: string | undefined;
  readonly #hfEndpoint: string;
  readonly #open: Open;
  readonly #transfers = new Map<string, Transfer>();

  constructor({ modelsDir, hfToken, hfEndpoint = DEFAULT_HF_ENDPOINT, fetch }: DownloadsOptions) {
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
    { hfEndpoint = this.#hfEndpoint, signal, onProgress }: DownloadOptions = {},
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
    const { name, entry, url, path } = job;
    const partial = `${path}.partial`;
    await mkdir(dirname(path), { recursive: true });
    let offset = (await stat(partial).catch(() => null))?.size ?? 0;
    if (entry.size !== undefined && offset > entry.size) offset = await truncate(partial);

    let response = await this.#request(job, offset, signal);
    if (response.status === 416) {
      discard(response);
      if (offset > 0 && rangeTotal(response.header('content-range')) === offset) response = complete(offset);
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

    const length = Number(response.header('content-length') ?? NaN);
    const total =
      rangeTotal(response.header('content-range')) ??
      (Number.isFinite(length) ? offset + length : (entry.size ?? offset));
    const hash = entry.sha256 ? createHash('sha256') : null;
    if (hash && offset > 0) await hashFile(hash, partial, offset, signal);

    let received = offset;
    let failure: unknown = null;
    const report = progressMeter(total, progress);
    async function* counted(body: AsyncIterable<Buffer>) {
      try {
        for await (const chunk of body) {
          hash?.update(chunk);
          received += chunk.byteLength;
          report(received);
          yield chunk;
        }
      } catch (err) {
        failure = err;
      }
    }
    try {
      // A broken or aborted body ends the file cleanly, so every byte received is kept for the resume.
      await pipeline(
        counted(response.body),
        createWriteStream(partial, { flags: offset > 0 ? 'a' : 'w', highWaterMark: 8 << 20 }),
      );
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
    if (entry.size !== undefined && received !== entry.size) {
      await rm(partial, { force: true });
      const message = `Download of ${name} from ${url}: expected ${entry.size} bytes, got ${received}; deleted`;
      throw new AppError(502, message, { code: 'download_size_mismatch' });
    }
    const actual = hash?.digest('hex');
    if (actual !== undefined && actual !== entry.sha256?.toLowerCase()) {
      await rm(partial, { force: true });
      const message = `sha256 mismatch for ${name} from ${url}: expected ${entry.sha256}, actual ${actual}; deleted`;
      throw new AppError(502, message, { code: 'checksum_mismatch' });
    }
    await rename(partial, path);
    progress(1);
    return { path, status: 'completed' };
  }

  async #request({ name, url, withToken }: Job, offset: number, signal: AbortSignal): Promise<Upstream> {
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

async function hashFile(hash: Hash, file: string, bytes: number, signal: AbortSignal): Promise<void> {
  for await (const chunk of createReadStream(file, { end: bytes - 1, highWaterMark: 1 << 20, signal }))
    hash.update(chunk as Buffer);
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
