import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';

/** The edge app inside workerd, on D1 with the committed migrations (no runner listed). */
describe('edge on workerd', () => {
  it('answers /health and 404s in the error shape', async () => {
    expect(await (await SELF.fetch('http://127.0.0.1/health')).json()).toEqual({ status: 'ok' });
    const res = await SELF.fetch('http://127.0.0.1/v1/nothing');
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { type: 'not_found_error' } });
  });

  it('creates sessions in D1 and gives them back to their owner', async () => {
    const first = await SELF.fetch('http://127.0.0.1/v1/session');
    const id = first.headers.get('x-session-id')!;
    expect(await first.json()).toEqual({ session_id: id, current_model: null, has_model_loaded: false });
    const row = await env.DB.prepare('select principal from sessions where id = ?').bind(id).first();
    expect(row).toEqual({ principal: 'anonymous' });
    const again = await SELF.fetch('http://127.0.0.1/v1/session', { headers: { 'x-session-id': id } });
    expect(again.headers.get('x-session-id')).toBe(id);
  });

  it('refuses anonymous calls on a public host and authenticates API keys stored in D1', async () => {
    const denied = await SELF.fetch('https://api.example.com/v1/session');
    expect(denied.status).toBe(401);
    const secret = 'A'.repeat(32);
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(secret));
    const hash = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
    await env.DB.prepare("insert into projects (id, name) values ('p1', 'workers')").run();
    await env.DB.prepare("insert into api_keys (id, project_id, secret_hash) values ('4242', 'p1', ?)")
      .bind(hash)
      .run();
    const ok = await SELF.fetch('https://api.example.com/v1/session', {
      headers: { 'x-api-key': `apiKey.4242.${secret}` },
    });
    expect(ok.status).toBe(200);
    const bad = await SELF.fetch('https://api.example.com/v1/session', {
      headers: { 'x-api-key': `apiKey.4242.${'B'.repeat(32)}` },
    });
    expect(bad.status).toBe(401);
    const format = await SELF.fetch('https://api.example.com/llm-exec/round', {
      method: 'POST',
      headers: { authorization: 'Token abc' },
    });
    expect(await format.json()).toEqual({
      error: 'Invalid authorization format. Must start with Bearer or Entity',
      statusCode: 401,
    });
  });

  it('answers 503 with Retry-After when no runner can serve', async () => {
    const res = await SELF.fetch('http://127.0.0.1/v1/models');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({ error: { code: 'no_runner' } });
    const ready = await SELF.fetch('http://127.0.0.1/ready');
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'not_ready', database: 'ok', runners: 0 });
  });

  it('answers a CORS preflight without auth', async () => {
    const res = await SELF.fetch('https://api.example.com/v1/models', {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
  });
});
