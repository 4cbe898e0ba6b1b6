import type { LlamaContextSequence } from 'node-llama-cpp';
import { AppError } from '../../shared/errors.ts';

/** One context sequence, lent to one session at a time; it keeps that session's KV cache between turns. */
export interface Slot {
  sequence: LlamaContextSequence;
  sessionId: string | null;
  busy: boolean;
  lastUsed: number;
  /** Stops the generation running on this slot (`POST /v1/stop`). */
  stop: AbortController | null;
}

interface Waiter {
  sessionId: string;
  resolve(slot: Slot): void;
  reject(err: unknown): void;
}

/**
 * Lends a model's sequences to sessions: a session gets back its own
 * sequence (its KV cache) when free, else a free one, else the least recently
 * used idle one. When all are busy, callers wait in a FIFO of at most
 * `maxQueue`; beyond that they get 429 with Retry-After.
 */
export class SequenceSlots {
  readonly #slots: Slot[];
  readonly #waiters: Waiter[] = [];

  constructor(
    sequences: LlamaContextSequence[],
    readonly model: string,
    readonly maxQueue = 16,
  ) {
    this.#slots = sequences.map((sequence) => ({ sequence, sessionId: null, busy: false, lastUsed: 0, stop: null }));
  }

  get capacity(): number {
    return this.#slots.length;
  }

  get busy(): number {
    return this.#slots.filter((s) => s.busy).length;
  }

  get queued(): number {
    return this.#waiters.length;
  }

  async acquire(sessionId: string, signal?: AbortSignal): Promise<Slot> {
    signal?.throwIfAborted();
    const slot = this.#pick(sessionId);
    if (slot) return this.#lend(slot, sessionId);
    if (this.#waiters.length >= this.maxQueue) {
      throw new AppError(
        429,
        `All ${this.capacity} sequences of ${this.model} are busy and the queue is full; retry shortly`,
        {
          code: 'model_busy',
          headers: { 'Retry-After': '1' },
        },
      );
    }
    return new Promise<Slot>((resolve, reject) => {
      const waiter: Waiter = { sessionId, resolve, reject };
      this.#waiters.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.#waiters.indexOf(waiter);
          if (i !== -1) this.#waiters.splice(i, 1);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  release(slot: Slot): void {
    slot.busy = false;
    slot.stop = null;
    slot.lastUsed = Date.now();
    const own = this.#waiters.findIndex((w) => w.sessionId === slot.sessionId);
    const i = own !== -1 ? own : this.#waiters.findIndex((w) => this.#pick(w.sessionId));
    if (i === -1) return;
    const [waiter] = this.#waiters.splice(i, 1);
    this.#lend(this.#pick(waiter!.sessionId)!, waiter!.sessionId).then(waiter!.resolve, waiter!.reject);
  }

  /** Stops the generation of `sessionId`, if it has one running. */
  stop(sessionId: string): boolean {
    const slot = this.#slots.find((s) => s.sessionId === sessionId && s.busy);
    if (!slot?.stop) return false;
    slot.stop.abort();
    return true;
  }

  /** Rejects every waiter (the model is being unloaded). */
  close(reason: AppError): void {
    for (const w of this.#waiters.splice(0)) w.reject(reason);
  }

  #pick(sessionId: string): Slot | undefined {
    const own = this.#slots.find((s) => s.sessionId === sessionId);
    if (own) return own.busy ? undefined : own;
    const idle = this.#slots.filter((s) => !s.busy);
    return idle.find((s) => s.sessionId === null) ?? idle.sort((a, b) => a.lastUsed - b.lastUsed)[0];
  }

  async #lend(slot: Slot, sessionId: string): Promise<Slot> {
    slot.busy = true;
    slot.stop = new AbortController();
    if (slot.sessionId !== sessionId) {
      slot.sessionId = sessionId;
      await slot.sequence.clearHistory();
    }
    return slot;
  }
}
