import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { projectMembers } from '../../drizzle/schema.ts';
import { testApp } from '../../test/helpers/test-app.ts';

const JWT_SECRET = 'user-token-secret-for-tests';
const ENTITY_SECRET = 'entity-token-secret-for-tests';
const key = (s: string) => new TextEncoder().encode(s);

async function userToken(sub: string, opts: { exp?: number; alg?: 'HS256'; iss?: string; aud?: string } = {}) {
  let jwt = new SignJWT({})
    .setProtectedHeader({ alg: opts.alg ?? 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? Math.floor(Date.now() / 1000) + 300);
  if (opts.iss) jwt = jwt.setIssuer(opts.iss);
  if (opts.aud) jwt = jwt.setAudience(opts.aud);
  return jwt.sign(key(JWT_SECRET));
}

describe('auth', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => cleanups.splice(0).forEach((f) => f()));
  async function make(options: Parameters<typeof testApp>[0] = {}) {
    const t = await testApp({ tokens: { jwtSecret: JWT_SECRET, entitySecret: ENTITY_SECRET }, ...options });
    cleanups.push(t.cleanup);
    return t;
  }
  const status = async (res: Response | Promise<Response>) => (await res).status;

  it('allows anonymous use on loopback until a key exists, ignoring dummy Bearer values', async () => {
    const t = await make({ keyCacheTtlMs: 0 });
    expect(await status(t.app.request('/v1/session'))).toBe(200);
    expect(await status(t.app.request('/v1/session', { headers: { authorization: 'Bearer sk-dummy' } }))).toBe(200);
    await t.deps.apiKeys.create('p');
    const denied = await t.app.request('/v1/session');
    expect(denied.status).toBe(401);
    expect((await denied.json()).error.type).toBe('authentication_error');
    expect(await status(t.app.request('/v1/session', { headers: { authorization: 'Bearer sk-dummy' } }))).toBe(401);
  });

  it('never allows anonymous use under the never policy', async () => {
    const t = await make({ anonymous: 'never' });
    expect(await status(t.app.request('/v1/session'))).toBe(401);
  });

  it('accepts a key as x-api-key and as Authorization: Bearer, refuses wrong secrets', async () => {
    const t = await make();
    const { key: apiKey, id } = await t.deps.apiKeys.create('proj');
    expect(apiKey).toMatch(/^apiKey\.\d+\.[A-Za-z0-9]+$/);
    expect(await status(t.app.request('/v1/session', { headers: { 'x-api-key': apiKey } }))).toBe(200);
    expect(await status(t.app.request('/v1/session', { headers: { authorization: `Bearer ${apiKey}` } }))).toBe(200);
    const wrong = `apiKey.${id}.${'x'.repeat(40)}`;
    const res = await t.app.request('/v1/session', { headers: { 'x-api-key': wrong } });
    expect(res.status).toBe(401);
    expect((await res.json()).error.code).toBe('invalid_api_key');
    expect(await status(t.app.request('/v1/session', { headers: { 'x-api-key': 'garbage' } }))).toBe(401);
  });

  it('stores only a hash of the secret', async () => {
    const t = await make();
    const { key: apiKey, id } = await t.deps.apiKeys.create('proj');
    const row = await t.db.query.apiKeys.findFirst({ where: (k, { eq }) => eq(k.id, id) });
    const secret = apiKey.split('.')[2]!;
    expect(row!.secretHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(secret);
  });

  it('revocation takes effect once the cache expires', async () => {
    const t = await make({ keyCacheTtlMs: 50 });
    const { key: apiKey, id } = await t.deps.apiKeys.create('proj');
    expect(await status(t.app.request('/v1/session', { headers: { 'x-api-key': apiKey } }))).toBe(200);
    // Another process (the CLI) revokes it: a fresh store over the same database.
    const { ApiKeyStore } = await import('../auth/api-keys.ts');
    await new ApiKeyStore(t.db).revoke(id);
    await new Promise((r) => setTimeout(r, 80));
    expect(await status(t.app.request('/v1/session', { headers: { 'x-api-key': apiKey } }))).toBe(401);
  });

  it('answers the seed message for an unknown authorization scheme, in both error shapes', async () => {
    const t = await make();
    const v1 = await t.app.request('/v1/session', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(v1.status).toBe(401);
    expect((await v1.json()).error.message).toBe('Invalid authorization format. Must start with Bearer or Entity');
    const exec = await t.app.request('/llm-exec/round', { method: 'POST', headers: { authorization: 'Token x' } });
    expect(await exec.json()).toEqual({
      error: 'Invalid authorization format. Must start with Bearer or Entity',
      statusCode: 401,
    });
  });

  it('accepts a user JWT for a project the user belongs to; 403 otherwise; 400 without x-project-id', async () => {
    const t = await make({ anonymous: 'never' });
    const project = await t.deps.apiKeys.ensureProject('team');
    const other = await t.deps.apiKeys.ensureProject('other');
    await t.db.insert(projectMembers).values({ projectId: project.id, userId: 'alice' }).run();
    const token = await userToken('alice');
    const ok = await t.app.request('/v1/session', {
      headers: { authorization: `Bearer ${token}`, 'x-project-id': project.id },
    });
    expect(ok.status).toBe(200);
    const forbidden = await t.app.request('/v1/session', {
      headers: { authorization: `Bearer ${token}`, 'x-project-id': other.id },
    });
    expect(forbidden.status).toBe(403);
    expect((await forbidden.json()).error.type).toBe('permission_error');
    const missing = await t.app.request('/v1/session', { headers: { authorization: `Bearer ${token}` } });
    expect(missing.status).toBe(400);
    expect((await missing.json()).error.param).toBe('x-project-id');
  });

  it('refuses expired, unsigned (alg none), wrongly signed and mis-addressed user tokens', async () => {
    const t = await make({
      anonymous: 'never',
      tokens: { jwtSecret: JWT_SECRET, jwtIssuer: 'idp', jwtAudience: 'edgerunner' },
    });
    const project = await t.deps.apiKeys.ensureProject('team');
    await t.db.insert(projectMembers).values({ projectId: project.id, userId: 'bob' }).run();
    const call = (token: string) =>
      status(
        t.app.request('/v1/session', { headers: { authorization: `Bearer ${token}`, 'x-project-id': project.id } }),
      );
    expect(await call(await userToken('bob', { iss: 'idp', aud: 'edgerunner' }))).toBe(200);
    expect(
      await call(await userToken('bob', { iss: 'idp', aud: 'edgerunner', exp: Math.floor(Date.now() / 1000) - 10 })),
    ).toBe(401);
    expect(await call(await userToken('bob', { iss: 'evil', aud: 'edgerunner' }))).toBe(401);
    expect(await call(await userToken('bob', { iss: 'idp', aud: 'someone-else' }))).toBe(401);
    const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
    const exp = Math.floor(Date.now() / 1000) + 60;
    expect(await call(`${b64({ alg: 'none' })}.${b64({ sub: 'bob', iss: 'idp', aud: 'edgerunner', exp })}.`)).toBe(401);
    const forged = await new SignJWT({ iss: 'idp', aud: 'edgerunner' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('bob')
      .setExpirationTime(exp)
      .sign(key('not-the-secret'));
    expect(await call(forged)).toBe(401);
  });

  it('accepts entity tokens signed with ENTITY_SECRET and refuses others', async () => {
    const t = await make({ anonymous: 'never' });
    const token = await new SignJWT({ project_id: 'p-1' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('billing-service')
      .setExpirationTime('1m')
      .sign(key(ENTITY_SECRET));
    expect(await status(t.app.request('/v1/session', { headers: { authorization: `Entity ${token}` } }))).toBe(200);
    expect(
      await status(
        t.app.request('/v1/session', { headers: { authorization: `Entity ${token}`, 'x-project-id': 'p-2' } }),
      ),
    ).toBe(403);
    const userSigned = await userToken('billing-service');
    expect(await status(t.app.request('/v1/session', { headers: { authorization: `Entity ${userSigned}` } }))).toBe(
      401,
    );
  });

  it('refuses a key used with another project id', async () => {
    const t = await make();
    const { key: apiKey } = await t.deps.apiKeys.create('proj');
    const res = await t.app.request('/v1/session', { headers: { 'x-api-key': apiKey, 'x-project-id': 'not-mine' } });
    expect(res.status).toBe(403);
  });
});

describe('auth with a JWKS (asymmetric user tokens)', () => {
  it('verifies EdDSA tokens against keys served at JWKS_URL and refuses HS256 ones', async () => {
    const { createServer } = await import('node:http');
    const { exportJWK, generateKeyPair } = await import('jose');
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA' };
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    const t = await testApp({ anonymous: 'never', tokens: { jwksUrl: `http://127.0.0.1:${port}/jwks.json` } });
    try {
      const project = await t.deps.apiKeys.ensureProject('jwks');
      await t.db.insert(projectMembers).values({ projectId: project.id, userId: 'carol' }).run();
      const call = (token: string) =>
        t.app.request('/v1/session', { headers: { authorization: `Bearer ${token}`, 'x-project-id': project.id } });
      const good = await new SignJWT({})
        .setProtectedHeader({ alg: 'EdDSA', kid: 'k1' })
        .setSubject('carol')
        .setExpirationTime('5m')
        .sign(privateKey);
      expect((await call(good)).status).toBe(200);
      const symmetric = await userToken('carol');
      expect((await call(symmetric)).status).toBe(401);
    } finally {
      t.cleanup();
      server.close();
    }
  });
});
