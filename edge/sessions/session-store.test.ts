import { afterEach, describe, expect, it } from 'vitest';
import { tempDb, testApp } from '../../test/helpers/test-app.ts';
import { count } from 'drizzle-orm';
import { sessions } from '../../drizzle/schema.ts';
import { SCRIPTED_ANSWER } from '../../test/helpers/tiny-models.ts';
import { boundedHistory, MAX_HISTORY_CHARS, SessionStore } from './session-store.ts';

describe('X-Session-ID sessions', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => cleanups.splice(0).forEach((f) => f()));

  async function app() {
    const t = await testApp();
    cleanups.push(t.cleanup);
    return t;
  }
  const sessionOf = async (res: Response) => {
    const header = res.headers.get('x-session-id');
    const body = await res.json();
    return { header, body };
  };

  it('creates an unguessable session when none is sent and returns it in the header and the body', async () => {
    const t = await app();
    const a = await sessionOf(await t.app.request('/v1/session'));
    const b = await sessionOf(await t.app.request('/v1/session'));
    expect(a.header).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a.body).toEqual({ session_id: a.header, current_model: null, has_model_loaded: false });
    expect(a.header).not.toBe(b.header);
  });

  it('keeps the session the caller sends back, on every route', async () => {
    const t = await app();
    const { header: id } = await sessionOf(await t.app.request('/v1/session'));
    const again = await t.app.request('/v1/session', { headers: { 'x-session-id': id! } });
    expect(again.headers.get('x-session-id')).toBe(id);
    const models = await t.app.request('/v1/models', { headers: { 'x-session-id': id! } });
    expect(models.headers.get('x-session-id')).toBe(id);
  });

  it('replaces unknown, malformed and other principals’ ids with a new session', async () => {
    const t = await app();
    const unknown = crypto.randomUUID();
    const r1 = await t.app.request('/v1/session', { headers: { 'x-session-id': unknown } });
    expect(r1.headers.get('x-session-id')).not.toBe(unknown);
    const r2 = await t.app.request('/v1/session', { headers: { 'x-session-id': "'; drop table sessions; --" } });
    expect(r2.headers.get('x-session-id')).toMatch(/^[0-9a-f-]{36}$/);

    const { key } = await t.deps.apiKeys.create('p1');
    const { key: otherKey } = await t.deps.apiKeys.create('p2');
    const mine = (await t.app.request('/v1/session', { headers: { 'x-api-key': key } })).headers.get('x-session-id')!;
    const stolen = await t.app.request('/v1/session', { headers: { 'x-api-key': otherKey, 'x-session-id': mine } });
    expect(stolen.headers.get('x-session-id')).not.toBe(mine);
    const own = await t.app.request('/v1/session', { headers: { 'x-api-key': key, 'x-session-id': mine } });
    expect(own.headers.get('x-session-id')).toBe(mine);
  });

  it('persists sessions and their state across a restart (a new store over the same file)', async () => {
    const temp = await tempDb();
    cleanups.push(temp.cleanup);
    const principal = { id: 'key:1', kind: 'api-key' as const, projectId: 'p' };
    const before = new SessionStore(temp.db);
    const created = await before.create(principal);
    await before.update(created, { currentModel: 'tiny-chat', runnerId: 'r1' });
    await before.saveHistory(created, [{ role: 'user', content: 'kept' }]);

    const { createDb } = await import('../../drizzle/db.ts');
    const after = new SessionStore(createDb({ url: temp.url }));
    const resolved = await after.resolve(created.id, principal);
    expect(resolved).toEqual({ ...created, currentModel: 'tiny-chat', runnerId: 'r1' });
    expect(await after.history(created.id)).toEqual([{ role: 'user', content: 'kept' }]);
  });

  const rows = async (t: Awaited<ReturnType<typeof app>>) =>
    (await t.deps.db.select({ n: count() }).from(sessions).get())!.n;
  const chat = (t: Awaited<ReturnType<typeof app>>, body: object, headers: Record<string, string> = {}) =>
    t.app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model: 'tiny-chat', max_tokens: 8, ...body }),
    });

  it('hands out an id at once but stores a session only when it has state', async () => {
    const t = await app();
    for (let i = 0; i < 5; i++) {
      const res = await t.app.request('/v1/models');
      expect(res.headers.get('x-session-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(await rows(t)).toBe(0);

    // OpenAI clients send the whole history and no header: nothing to keep.
    const history = [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello' },
      { role: 'user', content: 'Again' },
    ];
    expect((await chat(t, { messages: history })).status).toBe(200);
    expect(await rows(t)).toBe(0);

    // A lone new message starts a conversation the client can continue with the returned id.
    const first = await chat(t, { messages: [{ role: 'user', content: 'Hi' }] });
    const id = first.headers.get('x-session-id')!;
    expect(await rows(t)).toBe(1);
    await chat(t, { messages: [{ role: 'user', content: 'More' }] }, { 'x-session-id': id });
    const kept = await (await t.app.request('/v1/session/history', { headers: { 'x-session-id': id } })).json();
    expect(kept.messages.map((m: { content: string }) => m.content)).toEqual([
      'Hi',
      SCRIPTED_ANSWER,
      'More',
      SCRIPTED_ANSWER,
    ]);
  });

  it('scopes a session to its principal and project', async () => {
    const temp = await tempDb();
    cleanups.push(temp.cleanup);
    const store = new SessionStore(temp.db);
    const inA = { id: 'user:alice', kind: 'user' as const, projectId: 'A' };
    const created = await store.create(inA);
    expect((await store.resolve(created.id, inA)).id).toBe(created.id);
    expect((await store.resolve(created.id, { ...inA, projectId: 'B' })).id).not.toBe(created.id);
    expect((await store.resolve(created.id, { ...inA, id: 'user:bob' })).id).not.toBe(created.id);
  });

  it('expires idle sessions: they resolve to a new one and the sweep removes them', async () => {
    const temp = await tempDb();
    cleanups.push(temp.cleanup);
    const store = new SessionStore(temp.db, { ttlMs: 200 });
    const principal = { id: 'key:1', kind: 'api-key' as const, projectId: 'p' };
    const old = await store.create(principal);
    await store.saveHistory(old, [{ role: 'user', content: 'old' }]);
    const live = await store.create(principal);
    expect((await store.resolve(old.id, principal)).id).toBe(old.id);
    await new Promise((r) => setTimeout(r, 120));
    await store.persist(live); // a write restarts its idle clock
    await new Promise((r) => setTimeout(r, 120));
    const fresh = new SessionStore(temp.db, { ttlMs: 200 }); // no cache
    expect((await fresh.resolve(old.id, principal)).id).not.toBe(old.id);
    expect((await fresh.resolve(live.id, principal)).id).toBe(live.id);
    expect(await fresh.sweep()).toBe(1);
    expect(await fresh.history(old.id)).toEqual([]);
  });

  it('caps a stored conversation in size, keeping the system message and the newest turns', () => {
    const big = 'x'.repeat(100_000);
    const messages = [
      { role: 'system' as const, content: 'Be brief.' },
      ...Array.from({ length: 20 }, (_, i) => ({ role: 'user' as const, content: `${i} ${big}` })),
    ];
    const kept = boundedHistory(messages);
    expect(kept[0]).toEqual(messages[0]);
    expect(JSON.stringify(kept).length).toBeLessThanOrEqual(MAX_HISTORY_CHARS + 100);
    expect(kept.at(-1)).toEqual(messages.at(-1));
    expect(kept.length).toBeGreaterThan(2);
    expect(kept.length).toBeLessThan(messages.length);
  });

  it('runs one turn at a time per session: a second turn while one streams is a 409', async () => {
    const t = await app();
    const streaming = await chat(t, {
      model: 'tiny-loop',
      stream: true,
      max_tokens: 5000,
      messages: [{ role: 'user', content: 'go' }],
    });
    const id = streaming.headers.get('x-session-id')!;
    const reader = streaming.body!.getReader();
    await reader.read();
    const second = await chat(t, { messages: [{ role: 'user', content: 'meanwhile' }] }, { 'x-session-id': id });
    expect(second.status).toBe(409);
    expect((await second.json()).error.code).toBe('session_busy');
    await t.app.request('/v1/stop', { method: 'POST', headers: { 'x-session-id': id } });
    while (!(await reader.read()).done);
    const after = await chat(t, { messages: [{ role: 'user', content: 'now' }] }, { 'x-session-id': id });
    expect(after.status).toBe(200);
  });
});

/** Edge instances sharing one database (Workers isolates) see each other's turns through a lease in it. */
describe('turns across instances (turnLeaseMs)', () => {
  const principal = { id: 'key-1', kind: 'api-key' as const, projectId: 'p' };

  it('a turn on a stored session in one instance is a 409 in another until it is released', async () => {
    const { db, cleanup } = await tempDb();
    try {
      const a = new SessionStore(db, { turnLeaseMs: 60_000 });
      const b = new SessionStore(db, { turnLeaseMs: 60_000 });
      const stored = await a.create(principal);
      const writes: Promise<unknown>[] = [];
      const release = await a.beginTurn(stored, { defer: (w) => writes.push(w) });
      const seen = (await b.resolve(stored.id, principal))!;
      expect(seen.id).toBe(stored.id);
      await expect(b.beginTurn(seen)).rejects.toMatchObject({ status: 409, code: 'session_busy' });
      release();
      await Promise.all(writes);
      const again = await b.beginTurn(seen);
      again();
      // Without the lease each instance only knows its own turns (one process: the default).
      const [c, d] = [new SessionStore(db), new SessionStore(db)];
      const held = await c.beginTurn(stored);
      const other = await d.beginTurn(stored);
      held();
      other();
    } finally {
      cleanup();
    }
  });

  it('a session not stored yet takes no lease (no database write for a header-less turn)', async () => {
    const { db, cleanup } = await tempDb();
    try {
      const store = new SessionStore(db, { turnLeaseMs: 60_000 });
      const fresh = store.fresh(principal);
      const release = await store.beginTurn(fresh);
      await expect(store.beginTurn(fresh)).rejects.toMatchObject({ status: 409 });
      release();
      expect(await db.select({ n: count() }).from(sessions).get()).toEqual({ n: 0 });
    } finally {
      cleanup();
    }
  });
});
