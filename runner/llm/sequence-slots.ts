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
  signal: AbortSignal | undefined;
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
  #closed: AppError | null = null;

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

  /** Why the slots were closed (the model was unloaded); null while open. */
  get closed(): AppError | null {
    return this.#closed;
  }

  get queued(): number {
    return this.#waiters.length;
  }

  /** A slot for `sessionId`: its own when free, else another; waits in the queue when all are busy. */
  async acquire(sessionId: string, signal?: AbortSignal): Promise<Slot> {
    signal?.throwIfAborted();
    if (this.#closed) throw this.#closed;
    const slot = this.#pick(sessionId);
    if (slot) return this.#lend(slot, sessionId, signal);
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
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i !== -1) this.#waiters.splice(i, 1);
        reject(signal!.reason);
      };
      const settled = () => signal?.removeEventListener('abort', onAbort);
      const waiter: Waiter = {
        sessionId,
        signal,
        resolve: (slot) => (settled(), resolve(slot)),
        reject: (err) => (settled(), reject(err)),
      };
      this.#waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Gives `slot` back; the next waiter that can use it gets it. */
  release(slot: Slot): void {
    slot.busy = false;
    slot.stop = null;
    slot.lastUsed = Date.now();
    if (this.#closed) return;
    const own = this.#waiters.findIndex((w) => w.sessionId === slot.sessionId);
    const i = own !== -1 ? own : this.#waiters.findIndex((w) => this.#pick(w.sessionId));
    if (i === -1) return;
    const [waiter] = this.#waiters.splice(i, 1);
    this.#lend(this.#pick(waiter!.sessionId)!, waiter!.sessionId, waiter!.signal).then(waiter!.resolve, waiter!.reject);
  }

  /** Stops the generation of `sessionId`, if it has one running. */
  stop(sessionId: string): boolean {
    const slot = this.#slots.find((s) => s.sessionId === sessionId && s.busy);
    if (!slot?.stop) return false;
    slot.stop.abort();
    return true;
  }

  /** Rejects every waiter and every later call (the model is being unloaded); running slots may still be released. */
  close(reason: AppError): void {
    this.#closed = reason;
    for (const w of this.#waiters.splice(0)) w.reject(reason);
  }

  #pick(sessionId: string): Slot | undefined {
    const own = this.#slots.find((s) => s.sessionId === sessionId);
    if (own) return own.busy ? undefined : own;
    const idle = this.#slots.filter((s) => !s.busy);
    return idle.find((s) => s.sessionId === null) ?? idle.sort((a, b) => a.lastUsed - b.lastUsed)[0];
  }

  /** Marks `slot` lent at once (so no one else picks it); on an abort or failure while it is readied, gives it back. */
  async #lend(slot: Slot, sessionId: string, signal: AbortSignal | undefined): Promise<Slot> {
    slot.busy = true;
    slot.stop = new AbortController();
    const changed = slot.sessionId !== sessionId;
    try {
      if (changed) {
        slot.sessionId = sessionId;
        await slot.sequence.clearHistory();
      }
      signal?.throwIfAborted();
      if (this.#closed) throw this.#closed;
    } catch (err) {
      if (changed) slot.sessionId = null;
      this.release(slot);
      throw err;
    }
    return slot;
  }
}
