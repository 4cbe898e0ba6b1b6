import { Worker } from 'node:worker_threads';

// Plain CommonJS, evaluated: it runs the same under tsx, vitest and plain Node, with no build step.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { open } = require('node:fs/promises');
const hash = createHash('sha256');
const buffer = Buffer.allocUnsafe(1 << 20);
let handle = null, hashed = 0, target = 0, want = null, running = false, failed = null;
async function run() {
  if (running) return;
  running = true;
  try {
    while (hashed < target && !failed) {
      handle ??= await open(workerData.path, 'r');
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, target - hashed), hashed);
      if (bytesRead === 0) throw new Error(workerData.path + ' ends at ' + hashed + ' bytes, ' + target + ' expected');
      hash.update(buffer.subarray(0, bytesRead));
      hashed += bytesRead;
    }
  } catch (err) {
    failed = err;
  } finally {
    running = false;
  }
  if (want === null || (!failed && hashed < want)) return;
  await handle?.close();
  parentPort.postMessage(failed ? { error: String(failed.message ?? failed) } : { digest: hash.digest('hex') });
}
parentPort.on('message', (m) => {
  target = Math.max(target, m.bytes);
  if (m.digest) want = m.bytes;
  void run();
});
`;

/**
 * The SHA-256 of a file that is being written, computed in a worker thread that reads what is already on disk
 * (from the page cache) behind the writer, so the thread that receives and writes the bytes does no hashing.
 */
export class BackgroundSha256 {
  readonly #worker: Worker;
  readonly #result: Promise<string>;

  constructor(path: string) {
    this.#worker = new Worker(WORKER, { eval: true, workerData: { path } });
    this.#result = new Promise<string>((resolve, reject) => {
      this.#worker.once('message', (m: { digest?: string; error?: string }) =>
        m.digest ? resolve(m.digest) : reject(new Error(`Cannot hash ${path}: ${m.error}`)),
      );
      this.#worker.once('error', reject);
      this.#worker.once('exit', () => reject(new Error(`The hashing worker for ${path} stopped`)));
    });
    // Read only through digest(); a failure nobody asks for is not an unhandled rejection.
    this.#result.catch(() => {});
  }

  /** The file now holds at least `bytes` bytes: hash up to there in the background. */
  upTo(bytes: number): void {
    this.#worker.postMessage({ bytes });
  }

  /** The hex digest of the file's first `bytes` bytes (all written by now). */
  digest(bytes: number): Promise<string> {
    this.#worker.postMessage({ bytes, digest: true });
    return this.#result;
  }

  /** Stops the worker. */
  async dispose(): Promise<void> {
    await this.#worker.terminate();
  }
}
