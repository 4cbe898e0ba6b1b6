import { sql } from 'drizzle-orm';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { projectMembers } from '../../drizzle/schema.ts';
import { sha256Hex } from '../../shared/ids.ts';
import { parseSSE } from '../../shared/sse.ts';
import { testApp } from '../../test/helpers/test-app.ts';

const JWT_SECRET = 'user-token-secret-for-tests';
const ENTITY_SECRET = 'entity-token-secret-for-tests';
const secret = (s: string) => new TextEncoder().encode(s);

async function events(res: Response): Promise<unknown[]> {
  const out = [];
  for await (const data of parseSSE(res.body!)) out.push(JSON.parse(data));
  return out;
}

function entityToken(claims: Record<string, unknown>) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('ops-service')
    .setExpirationTime('1m')
    .sign(secret(ENTITY_SECRET));
}

describe('scopes', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => cleanups.splice(0).forEach((f) => f()));
  async function make() {
    const t = await testApp({ tokens: { jwtSecret: JWT_SECRET, entitySecret: ENTITY_SECRET }, keyCacheTtlMs: 0 });
    cleanups.push(t.cleanup);
    const call = (path: string, method: string, headers: Record<string, string>) =>
      t.app.request(path, { method, headers });
    return { ...t, call };
  }

  it('lets only admin keys load, unload and delete; the 403 names the scope', async () => {
    const t = await make();
    const admin = { 'x-api-key': (await t.deps.apiKeys.create('p', { scope: 'admin' })).key };
    const inference = { 'x-api-key': (await t.deps.apiKeys.create('p')).key };

    const refused = await t.call('/v1/models/tiny-chat/load', 'POST', inference);
    expect(refused.status).toBe(403);
    const body = await refused.json();
    expect(body.error.code).toBe('insufficient_scope');
    expect(body.error.type).toBe('permission_error');
    expect(body.error.message).toMatch(/admin scope.*inference scope/);
    expect(body.error.message).toContain('--scope admin');
    expect((await t.call('/v1/models/tiny-chat/unload', 'POST', inference)).status).toBe(403);
    expect((await t.call('/v1/models/tiny-chat', 'DELETE', inference)).status).toBe(403);

    const loaded = await t.call('/v1/models/tiny-chat/load', 'POST', admin);
    expect(loaded.status).toBe(200);
    expect((await events(loaded)).at(-1)).toEqual({ status: 'loaded' });
    // Once loaded, an inference key may pick it for its session; it still may not unload it.
    const picked = await t.call('/v1/models/tiny-chat/load', 'POST', inference);
    expect(picked.status).toBe(200);
    expect((await events(picked)).at(-1)).toEqual({ status: 'loaded' });
    expect((await t.call('/v1/models/tiny-chat/unload', 'POST', inference)).status).toBe(403);
    const unloaded = await t.call('/v1/models/tiny-chat/unload', 'POST', admin);
    expect(await unloaded.json()).toEqual({ status: 'unloaded', model: 'tiny-chat' });
    // Inference keys still chat (the model loads on demand) and list models.
    expect((await t.call('/v1/models', 'GET', inference)).status).toBe(200);
  });

  it('keeps anonymous local use admin', async () => {
    const t = await make();
    const res = await t.call('/v1/models/tiny-chat/load', 'POST', {});
    expect(res.status).toBe(200);
    expect((await events(res)).at(-1)).toEqual({ status: 'loaded' });
  });

  it('gives keys made before scopes existed the admin scope', async () => {
    const t = await make();
    const project = await t.deps.apiKeys.ensureProject('old');
    const hash = await sha256Hex('s'.repeat(40));
    await t.db.run(sql`INSERT INTO api_keys (id, project_id, secret_hash) VALUES ('42', ${project.id}, ${hash})`);
    expect(await t.deps.apiKeys.verify(`apiKey.42.${'s'.repeat(40)}`)).toMatchObject({ scope: 'admin' });
    expect((await t.deps.apiKeys.list())[0]).toMatchObject({ id: '42', scope: 'admin' });
  });

  it('gives users the admin scope only through an admin membership', async () => {
    const t = await make();
    const project = await t.deps.apiKeys.ensureProject('team');
    await t.db.insert(projectMembers).values({ projectId: project.id, userId: 'alice', role: 'admin' }).run();
    await t.db.insert(projectMembers).values({ projectId: project.id, userId: 'bob' }).run();
    const as = async (user: string) => ({
      authorization: `Bearer ${await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(user).setExpirationTime('1m').sign(secret(JWT_SECRET))}`,
      'x-project-id': project.id,
    });
    expect((await t.call('/v1/models/tiny-chat/unload', 'POST', await as('alice'))).status).toBe(200);
    expect((await t.call('/v1/models/tiny-chat/unload', 'POST', await as('bob'))).status).toBe(403);
  });

  it('requires a project claim on entity tokens; "*" lets x-project-id choose; scope from the claim', async () => {
    const t = await make();
    await t.deps.apiKeys.create('someone'); // auth on: no anonymous fallback
    const entity = async (claims: Record<string, unknown>, project?: string) => ({
      authorization: `Entity ${await entityToken(claims)}`,
      ...(project ? { 'x-project-id': project } : {}),
    });
    const noClaim = await t.call('/v1/session', 'GET', await entity({}, 'p-1'));
    expect(noClaim.status).toBe(401);
    expect((await noClaim.json()).error.message).toContain('project_id');
    expect((await t.call('/v1/session', 'GET', await entity({ project_id: 'p-1' }))).status).toBe(200);
    expect((await t.call('/v1/session', 'GET', await entity({ project_id: 'p-1' }, 'p-2'))).status).toBe(403);
    expect((await t.call('/v1/session', 'GET', await entity({ project_id: '*' }))).status).toBe(400);
    expect((await t.call('/v1/session', 'GET', await entity({ project_id: '*' }, 'p-2'))).status).toBe(200);
    const unload = '/v1/models/tiny-chat/unload';
    expect((await t.call(unload, 'POST', await entity({ project_id: 'p-1' }))).status).toBe(403);
    expect((await t.call(unload, 'POST', await entity({ project_id: 'p-1', scope: 'inference admin' }))).status).toBe(
      200,
    );
  });
});
