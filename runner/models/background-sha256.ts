import { Worker } from 'node:worker_threads';

// Plain CommonJS, evaluated: it runs the same under tsx, vitest and plain Node, with no build step.
// One worker hashes every file being downloaded, each job keyed by id.
const WORKER = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { open } = require('node:fs/promises');
const jobs = new Map();
async function run(job) {
  if (job.running) return;
  job.running = true;
  try {
    while (job.hashed < job.target && !job.failed && !job.dropped) {
      job.handle ??= await open(job.path, 'r');
      const { bytesRead } = await job.handle.read(job.buffer, 0, Math.min(job.buffer.length, job.target - job.hashed), job.hashed);
      if (bytesRead === 0) throw new Error(job.path + ' ends at ' + job.hashed + ' bytes, ' + job.target + ' expected');
      job.hash.update(job.buffer.subarray(0, bytesRead));
      job.hashed += bytesRead;
    }
  } catch (err) {
    job.failed = err;
  } finally {
    job.running = false;
  }
  if (!job.dropped && (job.want === null || (!job.failed && job.hashed < job.want))) return;
  jobs.delete(job.id);
  await job.handle?.close().catch(() => {});
  if (job.dropped) return;
  const { id, failed } = job;
  parentPort.postMessage(failed ? { id, error: String(failed.message ?? failed) } : { id, digest: job.hash.digest('hex') });
}
parentPort.on('message', (m) => {
  let job = jobs.get(m.id);
  if (!job) {
    if (m.drop) return;
    const buffer = Buffer.allocUnsafe(1 << 20);
    job = { id: m.id, path: m.path, buffer, hash: createHash('sha256'), hashed: 0, target: 0, want: null, handle: null };
    jobs.set(m.id, job);
  }
  if (m.drop) job.dropped = true;
  else job.target = Math.max(job.target, m.bytes);
  if (m.digest) job.want = m.bytes;
  void run(job);
});
`;

// How long the worker outlives its last job, so a model's files (and the next model's) share one.
const IDLE_MS = 10_000;

interface Pending {
  resolve(digest: string): void;
  reject(err: Error): void;
}

/** The process's hashing worker: started on the first job, stopped {@link IDLE_MS} after the last one. */
class HashingWorker {
  static #current: HashingWorker | null = null;
  static #nextId = 0;

  static job(path: string): { worker: HashingWorker; id: number; result: Promise<string> } {
    const worker = (HashingWorker.#current ??= new HashingWorker());
    const id = HashingWorker.#nextId++;
    return { worker, id, result: worker.#add(id, path) };
  }

  readonly #worker = new Worker(WORKER, { eval: true });
  readonly #pending = new Map<number, Pending>();
  #idle: NodeJS.Timeout | null = null;

  private constructor() {
    this.#worker.on('message', (m: { id: number; digest?: string; error?: string }) => {
      const pending = this.#pending.get(m.id);
      if (m.digest) pending?.resolve(m.digest);
      else pending?.reject(new Error(m.error));
    });
    this.#worker.on('error', (err) => this.#fail(err));
    this.#worker.on('exit', () => this.#fail(new Error('the hashing worker stopped')));
  }

  post(message: { id: number; path?: string; bytes?: number; digest?: boolean; drop?: boolean }): void {
    this.#worker.postMessage(message);
  }

  /** The job is over (its digest read, or given up): the worker forgets it. */
  drop(id: number): void {
    if (!this.#pending.delete(id)) return;
    this.post({ id, drop: true });
    if (this.#pending.size > 0) return;
    // Idle, it keeps no process alive, and goes after a while.
    this.#worker.unref();
    this.#idle = setTimeout(() => this.#stop(), IDLE_MS).unref();
  }

  #add(id: number, path: string): Promise<string> {
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = null;
    this.#worker.ref();
    const result = new Promise<string>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    this.post({ id, path, bytes: 0 });
    return result;
  }

  #stop(): void {
    if (HashingWorker.#current === this) HashingWorker.#current = null;
    void this.#worker.terminate();
  }

  #fail(err: Error): void {
    if (HashingWorker.#current === this) HashingWorker.#current = null;
    for (const pending of this.#pending.values()) pending.reject(err);
    this.#pending.clear();
  }
}

/**
 * The SHA-256 of a file that is being written, computed in a worker thread that reads what is already on disk
 * (from the page cache) behind the writer, so the thread that receives and writes the bytes does no hashing.
 * One worker serves every file of the process (it stays 10 s after the last one): starting a thread per file
 * would cost more CPU than hashing a few hundred MB.
 */
export class BackgroundSha256 {
  readonly #worker: HashingWorker;
  readonly #id: number;
  readonly #path: string;
  readonly #result: Promise<string>;

  constructor(path: string) {
    this.#path = path;
    const { worker, id, result } = HashingWorker.job(path);
    this.#worker = worker;
    this.#id = id;
    this.#result = result.catch((err: Error) => {
      throw new Error(`Cannot hash ${path}: ${err.message}`);
    });
    // Read only through digest(); a failure nobody asks for is not an unhandled rejection.
    this.#result.catch(() => {});
  }

  /** The file now holds at least `bytes` bytes: hash up to there in the background. */
  upTo(bytes: number): void {
    this.#worker.post({ id: this.#id, path: this.#path, bytes });
  }

  /** The hex digest of the file's first `bytes` bytes (all written by now). */
  digest(bytes: number): Promise<string> {
    this.#worker.post({ id: this.#id, path: this.#path, bytes, digest: true });
    return this.#result;
  }

  /** Ends this file's job (the worker itself stays a while for the next file). */
  async dispose(): Promise<void> {
    this.#worker.drop(this.#id);
  }
}
