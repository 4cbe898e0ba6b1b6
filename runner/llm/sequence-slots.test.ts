import { getEventListeners } from 'node:events';
import type { LlamaContextSequence } from 'node-llama-cpp';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import { SequenceSlots } from './sequence-slots.ts';

/** A stand-in sequence whose `clearHistory` waits until the test lets it finish. */
function sequence() {
  const pending: (() => void)[] = [];
  const fake = {
    clears: 0,
    clearHistory: () =>
      new Promise<void>((resolve) => {
        fake.clears++;
        pending.push(resolve);
      }),
    /** Finishes every clearHistory in flight. */
    finishClears: () => pending.splice(0).forEach((r) => r()),
  };
  return fake;
}

function slots(n: number, maxQueue = 4) {
  const sequences = Array.from({ length: n }, sequence);
  return { sequences, slots: new SequenceSlots(sequences as unknown as LlamaContextSequence[], 'm', maxQueue) };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

/** Lends the one slot to session `s` (its first lend clears the sequence). */
async function lendTo(s: SequenceSlots, fake: ReturnType<typeof sequence>, session: string) {
  const got = s.acquire(session);
  await tick();
  fake.finishClears();
  return got;
}

describe('SequenceSlots', () => {
  it('a waiter aborted while queued leaves the queue; the slot goes back to free', async () => {
    const { slots: s, sequences } = slots(1);
    const held = await lendTo(s, sequences[0]!, 'a');
    const abort = new AbortController();
    const waiting = s.acquire('b', abort.signal);
    expect(s.queued).toBe(1);
    abort.abort(new Error('client left'));
    await expect(waiting).rejects.toThrow('client left');
    expect(s.queued).toBe(0);
    s.release(held);
    expect(s.busy).toBe(0);
  });

  it('a waiter aborted while its slot is being lent (clearHistory) gives the slot back, to the next waiter', async () => {
    const { slots: s, sequences } = slots(1);
    const fake = sequences[0]!;
    const held = await lendTo(s, fake, 'a');
    const abort = new AbortController();
    const b = s.acquire('b', abort.signal);
    const c = s.acquire('c');
    s.release(held); // hands the slot to b: a new session, so its sequence is cleared first
    expect(fake.clears).toBe(2);
    abort.abort(new Error('client left'));
    await expect(b).rejects.toThrow('client left');
    fake.finishClears();
    await tick();
    fake.finishClears(); // c's own clear
    const forC = await c;
    expect(forC.sessionId).toBe('c');
    expect(s.busy).toBe(1);
    s.release(forC);
    expect(s.busy).toBe(0);
  });

  it('an abort during the lend with nobody waiting leaves every slot free', async () => {
    const { slots: s, sequences } = slots(1);
    const fake = sequences[0]!;
    const held = await lendTo(s, fake, 'a');
    const abort = new AbortController();
    const b = s.acquire('b', abort.signal);
    s.release(held);
    abort.abort(new Error('client left'));
    fake.finishClears();
    await expect(b).rejects.toThrow('client left');
    await tick();
    expect(s.busy).toBe(0);
    // The session that aborted, or any other, gets the slot again.
    const again = s.acquire('d');
    await tick();
    fake.finishClears();
    s.release(await again);
    expect(s.busy).toBe(0);
  });

  it('a failed clearHistory (a disposed sequence) fails that lend and frees the slot', async () => {
    const { slots: s, sequences } = slots(1);
    const fake = sequences[0]!;
    fake.clearHistory = () => Promise.reject(new Error('disposed'));
    await expect(s.acquire('a')).rejects.toThrow('disposed');
    expect(s.busy).toBe(0);
  });

  it('removes its abort listener once a waiter is served', async () => {
    const { slots: s, sequences } = slots(1);
    const held = await lendTo(s, sequences[0]!, 'a');
    const signal = new AbortController().signal;
    const waiting = s.acquire('a', signal); // the same session: its slot comes back without a clear
    expect(getEventListeners(signal, 'abort')).toHaveLength(1);
    s.release(held);
    await waiting;
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('closing (unload during a generation) fails the waiters and later calls; the running slot still comes back', async () => {
    const { slots: s, sequences } = slots(1);
    const held = await lendTo(s, sequences[0]!, 'a');
    const waiting = s.acquire('b');
    const reason = new AppError(503, 'Model m was unloaded');
    s.close(reason);
    await expect(waiting).rejects.toBe(reason);
    await expect(s.acquire('c')).rejects.toBe(reason);
    expect(s.busy).toBe(1);
    s.release(held);
    expect(s.busy).toBe(0);
    expect(s.queued).toBe(0);
  });

  it('answers 429 with Retry-After beyond the queue', async () => {
    const { slots: s, sequences } = slots(1, 1);
    const held = await lendTo(s, sequences[0]!, 'a');
    const waiting = s.acquire('a');
    const refused = (await s.acquire('b').catch((e: unknown) => e)) as AppError;
    expect(refused.status).toBe(429);
    expect(refused.headers['Retry-After']).toBe('1');
    s.release(held);
    s.release(await waiting);
    expect(s.busy).toBe(0);
  });
});
