import { validate } from '@scalar/openapi-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunnerPool } from '../runners/pool.ts';
import { DOCUMENTED_ROUTES } from '../openapi/openapi-document.ts';
import { testApp } from '../../test/helpers/test-app.ts';

let t: Awaited<ReturnType<typeof testApp>>;
beforeAll(async () => {
  // With a pool, a WebSocket helper and metrics, so the edge-only, WebSocket and /metrics routes are registered too.
  const upgradeWebSocket = (() => async () => new Response(null, { status: 426 })) as never;
  t = await testApp({ extra: { upgradeWebSocket } });
  const pool = new RunnerPool({ urls: [], db: t.db, sign: async () => 'x', logger: t.deps.logger } as never);
  const metrics = { recorder: { observeRequest() {}, observeGeneration() {} }, render: async () => '' };
  const monitorAssets = { plotly: async () => '' };
  const docsAssets = { bundle: async () => '', css: async () => '' };
  t = await testApp({
    db: t.db,
    extra: { upgradeWebSocket, pool, runnerToken: 'registration-token', metrics, monitorAssets, docsAssets },
  });
});
afterAll(() => t.cleanup());

describe('GET /openapi.json', () => {
  it('documents every route the app registers, and validates as OpenAPI 3.1', async () => {
    const res = await t.app.request('/openapi.json');
    expect(res.status).toBe(200);
    const document = await res.json();
    const registered = new Set(t.app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`));
    expect([...registered].filter((route) => !DOCUMENTED_ROUTES.has(route))).toEqual([]);
    expect([...DOCUMENTED_ROUTES].filter((route) => !registered.has(route))).toEqual([]);

    const { valid, errors } = await validate(document);
    expect(errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('takes request bodies from the schemas the routes validate with', async () => {
    const document = await (await t.app.request('/openapi.json')).json();
    const round = document.paths['/llm-exec/round'].post.requestBody.content['application/json'].schema.$ref;
    const schema = document.components.schemas[round.split('/').at(-1)];
    expect(schema.required).toEqual(expect.arrayContaining(['model', 'messages']));
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['llmConfig', 'config', 'tools', 'instructions', 'thread_id']),
    );
    expect(document.paths['/v1/models/{id}'].get.parameters[0]).toMatchObject({ name: 'id', in: 'path' });
    expect(
      document.paths['/llm-exec/round/stream'].post.responses['200'].content['text/event-stream']['x-events'],
    ).toHaveProperty('tool_result');
  });
});
