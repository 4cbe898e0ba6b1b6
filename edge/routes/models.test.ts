import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inference } from '../../shared/inference.ts';
import { inProcessRemoteInference } from '../../test/helpers/in-process-runner.ts';
import { testApp } from '../../test/helpers/test-app.ts';

for (const [topology, inference] of [
  ['embedded', undefined],
  ['edge → runner', () => inProcessRemoteInference()],
] as const) {
  describe(`GET /v1/models/{id} (${topology})`, () => {
    let t: Awaited<ReturnType<typeof testApp>>;
    beforeAll(async () => {
      t = await testApp({ inference: inference?.() });
    });
    afterAll(() => t.cleanup());

    it('answers one model as OpenAI’s model object, and 404 model_not_found for an unknown id', async () => {
      const res = await t.app.request('/v1/models/tiny-chat');
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        id: 'tiny-chat',
        object: 'model',
        owned_by: 'edgerunner',
        created: expect.any(Number),
        kind: 'llm',
        loaded: false,
      });
      const missing = await t.app.request('/v1/models/nope');
      expect(missing.status).toBe(404);
      expect((await missing.json()).error).toMatchObject({ code: 'model_not_found', param: 'model' });
    });

    it('serves the OpenAI SDK’s models.retrieve', async () => {
      const client = new OpenAI({
        apiKey: 'dummy',
        baseURL: 'http://127.0.0.1/v1',
        fetch: async (url, init) => t.app.request(String(url), init as RequestInit),
        maxRetries: 0,
      });
      expect(await client.models.retrieve('tiny-tools')).toMatchObject({ id: 'tiny-tools', object: 'model' });
      await expect(client.models.retrieve('nope')).rejects.toMatchObject({ status: 404 });
    });
  });
}

describe('GET /v1/models/{id} with a slash in the id (hosted models)', () => {
  it('finds `openai/gpt-4o` whether the slash comes encoded or not', async () => {
    const listing = { listModels: async () => [{ id: 'openai/gpt-4o', kind: 'llm' as const, loaded: true }] };
    const t = await testApp({ inference: listing as unknown as Inference });
    try {
      for (const path of ['/v1/models/openai/gpt-4o', '/v1/models/openai%2Fgpt-4o']) {
        const res = await t.app.request(path);
        expect(res.status).toBe(200);
        expect((await res.json()).id).toBe('openai/gpt-4o');
      }
    } finally {
      t.cleanup();
    }
  });
});
