import { sql } from 'drizzle-orm';
import { SignJWT } from 'jose';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { projectMembers } from '../../drizzle/schema.ts';
import { sha256Hex } from '../../shared/ids.ts';
import { parseSSE } from '../../shared/sse.ts';
import { buildTinyLlama } from '../../test/fixtures/tiny-llama.ts';
import { startHubServer, type HubServer } from '../../test/helpers/hub-server.ts';
import { inProcessRemoteInference } from '../../test/helpers/in-process-runner.ts';
import { localTestInference, testApp } from '../../test/helpers/test-app.ts';

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

/** A request naming a catalog model loads it on demand; downloading it first is for admin callers only. */
describe('on-demand downloads', () => {
  const modelsDir = mkdtempSync(join(tmpdir(), 'edgerunner-scope-dl-'));
  const bytes = buildTinyLlama({ weights: 'scripted' });
  let hub: HubServer;
  const cleanups: Array<() => void> = [];
  beforeAll(async () => {
    hub = await startHubServer({ files: { 'edgerunner/tiny/chat.gguf': bytes } });
  });
  afterAll(async () => {
    cleanups.forEach((f) => f());
    await hub.close();
    rmSync(modelsDir, { recursive: true, force: true });
  });

  for (const [topology, remote] of [
    ['embedded', false],
    ['edge → runner', true],
  ] as const) {
    it(`an inference key gets 403 model_not_downloaded and starts no download; an admin key downloads (${topology})`, async () => {
      const dir = mkdtempSync(join(modelsDir, 'run-'));
      const catalog = { models: { 'hub-chat': { kind: 'llm' as const, source: 'hf:edgerunner/tiny/chat.gguf' } } };
      const files = { modelsDir: dir, hfEndpoint: hub.url };
      const t = await testApp({
        inference: remote ? inProcessRemoteInference('r1', catalog, files) : localTestInference('e', catalog, files),
        keyCacheTtlMs: 0,
      });
      cleanups.push(t.cleanup);
      const ask = (key: string, path = '/v1/chat/completions') =>
        t.app.request(path, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': key },
          body: JSON.stringify(
            path.endsWith('/chat/completions')
              ? { model: 'hub-chat', max_tokens: 3, messages: [{ role: 'user', content: 'hi' }] }
              : { model: 'hub-chat', prompt: 'hi', max_tokens: 3 },
          ),
        });
      const inference = (await t.deps.apiKeys.create('p')).key;
      const admin = (await t.deps.apiKeys.create('p', { scope: 'admin' })).key;
      const before = hub.requests.length;
      for (const path of ['/v1/chat/completions', '/v1/completions']) {
        const refused = await ask(inference, path);
        expect(refused.status).toBe(403);
        const { error } = await refused.json();
        expect(error.code).toBe('model_not_downloaded');
        expect(error.message).toMatch(/admin scope/);
      }
      expect(hub.requests.length).toBe(before);
      expect((await ask(admin)).status).toBe(200);
      expect(hub.requests.length).toBeGreaterThan(before);
      // Downloaded now: an inference key may use it (it loads on demand).
      expect((await ask(inference)).status).toBe(200);
    });
  }
});
