import { afterEach, describe, expect, it } from 'vitest';
import { CorsOrigins, isLoopbackHost, isLoopbackOrigin, parseCorsOrigins } from '../../shared/cors-origins.ts';
import { testApp } from '../../test/helpers/test-app.ts';

describe('loopback names and CORS_ORIGINS', () => {
  it('tells loopback hosts and origins from others', () => {
    for (const h of ['localhost', 'localhost:8080', '127.0.0.1', '127.1.2.3:9', '[::1]:8080', 'app.localhost:3000'])
      expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['attacker.example', 'localhost.attacker.example', '127.0.0.1.nip.io', '10.0.0.1', '0.0.0.0', ''])
      expect(isLoopbackHost(h), h).toBe(false);
    expect(isLoopbackOrigin('http://localhost:5173')).toBe(true);
    expect(isLoopbackOrigin('https://127.0.0.1')).toBe(true);
    expect(isLoopbackOrigin('http://[::1]:3000')).toBe(true);
    expect(isLoopbackOrigin('https://evil.example')).toBe(false);
    expect(isLoopbackOrigin('http://localhost.evil.example')).toBe(false);
    expect(isLoopbackOrigin('null')).toBe(false);
  });

  it('matches exact origins, wildcards, null and *', () => {
    const o = new CorsOrigins(['https://app.example.com/', 'https://*.corp.example', 'chrome-extension://*', 'null']);
    expect(o.has('https://app.example.com')).toBe(true);
    expect(o.has('HTTPS://APP.EXAMPLE.COM')).toBe(true);
    expect(o.has('http://app.example.com')).toBe(false);
    expect(o.has('https://wiki.corp.example')).toBe(true);
    expect(o.has('https://corp.example.evil')).toBe(false);
    expect(o.has('chrome-extension://abcdef')).toBe(true);
    expect(o.has('null')).toBe(true);
    expect(new CorsOrigins(['*']).has('https://anything.example')).toBe(true);
    expect(new CorsOrigins([]).has('https://anything.example')).toBe(false);
  });

  it('names entries that are no origin', () => {
    expect(parseCorsOrigins(' https://a.example , http://b.example:3000 ,,').origins).toEqual([
      'https://a.example',
      'http://b.example:3000',
    ]);
    expect(parseCorsOrigins('https://a.example/path, a.example').problems).toHaveLength(2);
    expect(parseCorsOrigins('*, null').problems).toEqual([]);
  });
});

describe('CORS and Host while the server runs without auth', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => cleanups.splice(0).forEach((f) => f()));
  async function make(corsOrigins?: string[]) {
    const t = await testApp({ keyCacheTtlMs: 0, extra: corsOrigins ? { corsOrigins } : {} });
    cleanups.push(t.cleanup);
    return t;
  }
  const preflight = (origin: string) => ({
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
  });

  it('refuses a rebinding-style request (Host: attacker.example) with a message saying what to do', async () => {
    const t = await make();
    const res = await t.app.request('http://localhost/v1/models', { headers: { host: 'attacker.example' } });
    expect(res.status).toBe(403);
    const body = await res.json();
    expect(body.error.code).toBe('host_forbidden');
    expect(body.error.message).toContain('attacker.example');
    expect(body.error.message).toContain('npm run keys -- create');
    // Also when the URL itself carries the name (Workers, absolute request targets).
    expect((await t.app.request('http://attacker.example:8080/v1/models')).status).toBe(403);
    expect((await t.app.request('http://attacker.example/health')).status).toBe(403);
    // A loopback Host is served.
    expect((await t.app.request('/v1/models', { headers: { host: '127.0.0.1:8080' } })).status).toBe(200);
  });

  it('refuses a foreign Origin, preflights included, and serves loopback origins', async () => {
    const t = await make();
    const res = await t.app.request('/v1/models', { headers: { origin: 'https://evil.example' } });
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const body = await res.json();
    expect(body.error.code).toBe('origin_forbidden');
    expect(body.error.message).toContain('CORS_ORIGINS');
    const pre = await t.app.request('/v1/chat/completions', preflight('https://evil.example'));
    expect(pre.status).toBe(403);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    expect((await t.app.request('/v1/models', { headers: { origin: 'null' } })).status).toBe(403);

    const local = await t.app.request('/v1/models', { headers: { origin: 'http://localhost:5173' } });
    expect(local.status).toBe(200);
    expect(local.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    const localPre = await t.app.request('/v1/chat/completions', preflight('http://127.0.0.1:3000'));
    expect(localPre.status).toBe(204);
  });

  it('serves the origins listed in CORS_ORIGINS', async () => {
    const t = await make(['https://app.example.com']);
    const ok = await t.app.request('/v1/models', { headers: { origin: 'https://app.example.com' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(ok.headers.get('access-control-allow-credentials')).toBe('true');
    expect((await t.app.request('/v1/models', preflight('https://app.example.com'))).status).toBe(204);
    expect((await t.app.request('/v1/models', { headers: { origin: 'https://other.example' } })).status).toBe(403);
  });

  it('keeps the document CORS (every origin, credentials) once a key exists', async () => {
    const t = await make();
    const { key } = await t.deps.apiKeys.create('p');
    const pre = await t.app.request('/v1/chat/completions', preflight('https://evil.example'));
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://evil.example');
    expect(pre.headers.get('access-control-allow-headers')).toBe('content-type');
    const res = await t.app.request('/v1/models', {
      headers: { origin: 'https://evil.example', host: 'api.example.com', 'x-api-key': key },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://evil.example');
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    // Without credentials it is a 401 now, not a 403.
    expect((await t.app.request('/v1/models', { headers: { origin: 'https://evil.example' } })).status).toBe(401);
  });

  it('keeps the document CORS when anonymous use is off', async () => {
    const t = await testApp({ anonymous: 'never' });
    cleanups.push(t.cleanup);
    const pre = await t.app.request('/v1/models', preflight('https://evil.example'));
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://evil.example');
  });
});
