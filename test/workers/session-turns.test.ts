import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createDb } from '../../drizzle/db.ts';
import { SessionStore, TURN_LEASE_MS } from '../../edge/sessions/session-store.ts';

/** Two isolates' session stores over one D1: a turn's lease in D1 makes the other's turn a 409. */
describe('session turns across isolates (D1)', () => {
  it('a stored session busy in one store is a 409 in another until released', async () => {
    const principal = { id: 'anonymous', kind: 'anonymous' as const, projectId: null };
    const [a, b] = [0, 1].map(() => new SessionStore(createDb({ d1: env.DB }), { turnLeaseMs: TURN_LEASE_MS }));
    const stored = await a!.create(principal);
    const writes: Promise<unknown>[] = [];
    const release = await a!.beginTurn(stored, { defer: (w) => writes.push(w) });
    const seen = await b!.resolve(stored.id, principal);
    await expect(b!.beginTurn(seen)).rejects.toMatchObject({ status: 409, code: 'session_busy' });
    release();
    await Promise.all(writes);
    (await b!.beginTurn(seen))();
  });
});
