import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localTestInference, testApp } from '../test/helpers/test-app.ts';

describe('createApp: the HTTP contract', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  beforeAll(async () => {
    t = await testApp({ maxBodyBytes: 1024 });
  });
  afterAll(() => t.cleanup());

  it('answers /health and /ready', async () => {
    expect(await (await t.app.request('/health')).json()).toEqual({ status: 'ok' });
    const ready = await t.app.request('/ready');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', database: 'ok', runners: 1 });
  });

  it('puts a request id on every response and keeps a sane incoming one', async () => {
    const res = await t.app.request('/health');
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const echoed = await t.app.request('/health', { headers: { 'x-request-id': 'abc-123' } });
    expect(echoed.headers.get('x-request-id')).toBe('abc-123');
    const bad = await t.app.request('/health', { headers: { 'x-request-id': 'bad id<script>' } });
    expect(bad.headers.get('x-request-id')).not.toBe('bad id<script>');
  });

  it('answers unknown routes 404 in the OpenAI shape under /v1 and the exec shape under /llm-exec', async () => {
    const v1 = await t.app.request('/v1/nothing-here');
    expect(v1.status).toBe(404);
    expect(await v1.json()).toEqual({
      error: {
        message: 'Route GET /v1/nothing-here not found',
        type: 'not_found_error',
        code: 'route_not_found',
        param: null,
      },
    });
    const exec = await t.app.request('/llm-exec/nothing', { method: 'POST' });
    expect(exec.status).toBe(404);
    expect(await exec.json()).toEqual({ error: 'Route POST /llm-exec/nothing not found', statusCode: 404 });
  });

  it('answers a preflight without auth, echoing the origin with credentials', async () => {
    const { app, cleanup } = await testApp({ anonymous: 'never' });
    const res = await app.request('/v1/models', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-api-key, content-type, x-session-id',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('access-control-allow-methods')).toContain('DELETE');
    expect(res.headers.get('access-control-allow-headers')).toBe('x-api-key, content-type, x-session-id');
    cleanup();
  });

  it('exposes X-Session-ID to browsers on normal and error responses', async () => {
    const { app, cleanup } = await testApp({ anonymous: 'never' });
    const denied = await app.request('/v1/models', { headers: { origin: 'https://app.example' } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('access-control-allow-origin')).toBe('https://app.example');
    cleanup();
    // Without auth (the shared app), only loopback origins are served.
    const ok = await t.app.request('/v1/models', { headers: { origin: 'http://localhost:5173' } });
    expect(ok.headers.get('access-control-expose-headers')).toContain('X-Session-ID');
    expect(ok.headers.get('x-session-id')).toBeTruthy();
  });

  it('refuses bodies over the limit with 413, by declared length and by streamed length', async () => {
    const declared = await t.app.request('/v1/models', { method: 'POST', body: 'x'.repeat(2048) });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ error: { code: 'payload_too_large' } });
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new TextEncoder().encode('y'.repeat(512)));
        controller.close();
      },
    });
    const streamed = await t.app.request('/v1/models', { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(streamed.status).toBe(413);
  });

  it('lists models in the document shape and the OpenAI shape', async () => {
    const res = await t.app.request('/v1/models');
    const body = await res.json();
    expect(body.models).toEqual([
      'tiny-chat',
      'tiny-random',
      'tiny-loop',
      'tiny-tools',
      'tiny-fim',
      'tiny-clip',
      'sdxl-turbo',
      'tiny-sd',
      'PP-OCRv4',
    ]);
    expect(body.data.at(-1)).toMatchObject({ id: 'PP-OCRv4', kind: 'ocr', loaded: false });
    expect(body.object).toBe('list');
    expect(body.data[0]).toMatchObject({ id: 'tiny-chat', object: 'model', owned_by: 'edgerunner' });
  });

  it('never shows a stack trace: unexpected errors are a bare 500', async () => {
    const { app, cleanup } = await testApp({
      inference: Object.assign(localTestInference(), {
        listModels: async () => {
          throw new Error('secret internals at /home/x/file.ts:12');
        },
      }),
    });
    const res = await app.request('/v1/models');
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toContain('secret internals');
    expect(JSON.parse(text)).toEqual({
      error: { message: 'Internal server error', type: 'server_error', code: 'internal_error', param: null },
    });
    cleanup();
  });
});
