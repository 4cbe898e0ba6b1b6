import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/** One espeak-ng voice: its identifier, name and the languages it speaks (best first). */
export interface EspeakVoice {
  identifier: string;
  name: string;
  languages: string[];
}

// Plain CommonJS, evaluated (as the ONNX worker): the ESM package is imported by its file URL.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
let engine;
let voice;
let rate;
const ready = import(workerData.url).then(async (m) => {
  const module = await m.default();
  engine = new module.eSpeakNGWorker();
});
parentPort.on('message', async (msg) => {
  try {
    await ready;
    if (msg.kind === 'voices') {
      const voices = engine.list_voices().map((v) => ({
        identifier: v.identifier,
        name: v.name,
        languages: v.languages.sort((a, b) => a.priority - b.priority).map((l) => l.name),
      }));
      parentPort.postMessage({ id: msg.id, ok: true, voices, sampleRate: engine.samplerate });
    } else if (msg.kind === 'synth') {
      // Loading a voice costs more than a short sentence: only when it changes.
      if (voice !== msg.voice) engine.set_voice((voice = msg.voice));
      if (rate !== msg.rate) engine.rate = rate = msg.rate;
      const parts = [];
      let length = 0;
      const started = performance.now();
      engine.synthesize(msg.text, (samples) => {
        parts.push(samples);
        length += samples.length;
        return 0;
      });
      const synthMs = performance.now() - started;
      const samples = new Int16Array(length);
      let offset = 0;
      for (const part of parts) {
        samples.set(part, offset);
        offset += part.length;
      }
      parentPort.postMessage({ id: msg.id, ok: true, samples, synthMs }, [samples.buffer]);
    }
  } catch (err) {
    parentPort.postMessage({ id: msg.id, ok: false, error: String((err && err.message) || err) });
  }
});
`;

/**
 * espeak-ng (the Emscripten build `@echogarden/espeak-ng-emscripten`, GPL-3.0, voices included) in a worker thread:
 * one instance loaded once (~0.2 s), then each synthesis blocks only its own thread. Calls run one at a time.
 */
export class EspeakWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (m: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  #nextId = 0;
  #failure: Error | undefined;
  #engineMs = 0;

  constructor() {
    const entry = createRequire(import.meta.url).resolve('@echogarden/espeak-ng-emscripten');
    this.#worker = new Worker(WORKER, { eval: true, workerData: { url: pathToFileURL(entry).href } });
    this.#worker.unref();
    this.#worker.on('message', (msg: { id: number; ok: boolean; error?: string } & Record<string, unknown>) => {
      const pending = this.#pending.get(msg.id);
      if (!pending) return;
      this.#pending.delete(msg.id);
      if (msg.ok) pending.resolve(msg);
      else pending.reject(new Error(`espeak-ng: ${msg.error}`));
    });
    const fail = (err: Error) => {
      this.#failure = err;
      for (const pending of this.#pending.values()) pending.reject(err);
      this.#pending.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`the espeak-ng worker exited (code ${code})`)));
  }

  /** Milliseconds spent inside espeak-ng's synthesis so far (what the pipeline's overhead is measured against). */
  get engineMs(): number {
    return this.#engineMs;
  }

  /** Whether the thread died: a new worker is needed. */
  get failed(): boolean {
    return this.#failure !== undefined;
  }

  #call(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.ref();
      this.#worker.postMessage({ ...message, id });
    }).finally(() => {
      if (this.#pending.size === 0) this.#worker.unref();
    }) as Promise<Record<string, unknown>>;
  }

  /** The voices espeak-ng has, and its output sample rate. */
  async voices(): Promise<{ voices: EspeakVoice[]; sampleRate: number }> {
    const done = await this.#call({ kind: 'voices' });
    return { voices: done.voices as EspeakVoice[], sampleRate: done.sampleRate as number };
  }

  /** 16-bit mono samples of `text` spoken by `voice` (a language name espeak-ng knows) at `rate` words a minute. */
  async synthesize(text: string, voice: string, rate: number): Promise<Int16Array> {
    const done = await this.#call({ kind: 'synth', text, voice, rate });
    this.#engineMs += done.synthMs as number;
    return done.samples as Int16Array;
  }

  async terminate(): Promise<void> {
    await this.#worker.terminate();
  }
}
