import { afterEach, describe, expect, it } from 'vitest';
import { tempDb, testApp } from '../../test/helpers/test-app.ts';
import { SessionStore } from './session-store.ts';

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
    await before.update(created.id, { currentModel: 'tiny-chat', runnerId: 'r1' });
    await before.saveHistory(created.id, [{ role: 'user', content: 'kept' }]);

    const { createDb } = await import('../../drizzle/db.ts');
    const after = new SessionStore(createDb({ url: temp.url }));
    const resolved = await after.resolve(created.id, principal);
    expect(resolved).toEqual({ ...created, currentModel: 'tiny-chat', runnerId: 'r1' });
    expect(await after.history(created.id)).toEqual([{ role: 'user', content: 'kept' }]);
  });
});
