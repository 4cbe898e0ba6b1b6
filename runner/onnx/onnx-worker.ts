import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** A tensor crossing to or from the worker: its element type, data and shape. */
export interface WorkerTensor {
  type: 'float32' | 'float16' | 'int64' | 'int32' | 'uint8' | 'bool';
  /** float16 travels as its bits (Uint16Array). */
  data: Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array;
  dims: readonly number[];
}

/** An onnxruntime session living in an OnnxWorker. */
export interface OnnxSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Each input's element type (`float32`, `float16`, `int64`…) and shape (named dimensions as text), as declared. */
  readonly inputs: Readonly<Record<string, { type: string; shape: readonly (number | string)[] }>>;
  /** Runs the model off the main thread. The inputs' buffers are transferred (not usable after the call). */
  run(feeds: Record<string, WorkerTensor>): Promise<Record<string, WorkerTensor>>;
}

// Plain CommonJS, evaluated: it runs the same under tsx, vitest and plain Node, with no build step.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
const sessions = new Map();
const reply = (message, transfer) => {
  try {
    parentPort.postMessage(message, transfer);
  } catch {
    parentPort.postMessage(message); // buffers that cannot move are copied
  }
};
parentPort.on('message', async (msg) => {
  try {
    if (msg.kind === 'create') {
      const session = await ort.InferenceSession.create(msg.path, msg.options);
      sessions.set(msg.session, session);
      const inputs = {};
      for (const m of session.inputMetadata ?? []) if (m.isTensor) inputs[m.name] = { type: m.type, shape: m.shape };
      reply({ id: msg.id, ok: true, inputNames: session.inputNames, outputNames: session.outputNames, inputs });
    } else if (msg.kind === 'run') {
      const session = sessions.get(msg.session);
      const feeds = {};
      for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
      const started = performance.now();
      const outputs = await session.run(feeds);
      const runMs = performance.now() - started;
      const result = {};
      const transfer = [];
      for (const [name, t] of Object.entries(outputs)) {
        const data = t.type === 'float16' ? new Uint16Array(t.data.buffer, t.data.byteOffset, t.data.length) : t.data;
        result[name] = { type: t.type, data, dims: t.dims };
        transfer.push(data.buffer);
      }
      reply({ id: msg.id, ok: true, outputs: result, runMs }, transfer);
    } else if (msg.kind === 'release') {
      const session = sessions.get(msg.session);
      sessions.delete(msg.session);
      if (session) await session.release();
      reply({ id: msg.id, ok: true });
    }
  } catch (err) {
    reply({ id: msg.id, ok: false, error: String((err && err.message) || err) });
  }
});
`;

interface Pending {
  resolve: (value: Record<string, unknown>) => void;
  reject: (err: Error) => void;
}

/**
 * onnxruntime sessions in a worker thread. onnxruntime-node's `run` is synchronous on the thread that calls it
 * (a promise around a blocking call): on the main thread one OCR page would stall every other request, SSE
 * stream and heartbeat for a second. Here the main thread only posts tensors (their buffers transferred, not
 * copied) and awaits the outputs. One worker runs its sessions one at a time.
 */
export class OnnxWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #nextSession = 0;
  #failure: Error | undefined;
  #runMs = 0;

  constructor() {
    const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
    this.#worker = new Worker(WORKER, { eval: true, workerData: { ortPath } });
    this.#worker.on('message', (msg: { id: number; ok: boolean; error?: string } & Record<string, unknown>) => {
      const pending = this.#pending.get(msg.id);
      if (!pending) return;
      this.#pending.delete(msg.id);
      if (msg.ok) pending.resolve(msg);
      else pending.reject(new Error(`onnxruntime: ${msg.error}`));
    });
    const fail = (err: Error) => {
      this.#failure = err;
      for (const pending of this.#pending.values()) pending.reject(err);
      this.#pending.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`the onnxruntime worker exited (code ${code})`)));
  }

  /** Milliseconds this worker's sessions have spent in onnxruntime's `run`, in total (what the glue is measured against). */
  get runMs(): number {
    return this.#runMs;
  }

  /** Whether the thread died (crashed, ran out of memory, or was terminated): every later call fails. */
  get failed(): boolean {
    return this.#failure !== undefined;
  }

  #call(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Record<string, unknown>> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...message, id }, transfer);
    });
  }

  /** Loads a model file into a session of this worker. */
  async session(path: string, options: Record<string, unknown> = {}): Promise<OnnxSession> {
    const session = this.#nextSession++;
    const created = await this.#call({ kind: 'create', session, path, options });
    return {
      inputNames: created.inputNames as string[],
      outputNames: created.outputNames as string[],
      inputs: (created.inputs as OnnxSession['inputs'] | undefined) ?? {},
      run: async (feeds) => {
        const transfer = [...new Set(Object.values(feeds).map((t) => t.data.buffer as ArrayBuffer))];
        const done = await this.#call({ kind: 'run', session, feeds }, transfer);
        this.#runMs += done.runMs as number;
        return done.outputs as Record<string, WorkerTensor>;
      },
    };
  }

  /** Frees every session (their memory) and ends the thread. */
  async terminate(): Promise<void> {
    await this.#worker.terminate();
  }
}
