import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HELLO_STREAM } from '../../test/helpers/openai-chunks.ts';
import { localTestInference, testApp } from '../../test/helpers/test-app.ts';
import { ProjectProviderKeys } from './project-keys.ts';
import { ProviderInference } from './provider-inference.ts';
import { createProviderRegistry } from './provider-registry.ts';

/** Per-project provider keys: a project's own key wins over the server's, and other projects never see it. */
describe('project provider keys', () => {
  const seen: string[] = [];
  const upstream = async (_url: string, init: RequestInit) => {
    seen.push((init.headers as Record<string, string>).authorization ?? '');
    const body = HELLO_STREAM.map((e) => `data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`).join('');
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
  };
  let t: Awaited<ReturnType<typeof testApp>>;
  let keys: ProjectProviderKeys;
  let alpha = '';
  let beta = '';

  beforeAll(async () => {
    t = await testApp({ keyCacheTtlMs: 0 });
    keys = new ProjectProviderKeys(t.db, { cacheTtlMs: 0 });
    const registry = createProviderRegistry({ GROQ_API_KEY: 'server-groq-key' }, { fetch: upstream });
    t.deps.inference = new ProviderInference(localTestInference(), registry, keys);
    const { createApp } = await import('../app.ts');
    t.app = createApp(t.deps);
    const a = await t.deps.apiKeys.create('alpha');
    const b = await t.deps.apiKeys.create('beta');
    [alpha, beta] = [a.key, b.key];
    await keys.set(a.projectId, 'openai', 'sk-alpha-own');
    await keys.set(a.projectId, 'groq', 'gsk-alpha-own');
  });
  afterAll(() => t.cleanup());

  const chat = (key: string, model: string) =>
    t.app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hi' }] }),
    });

  it('uses the project’s own key, which wins over the server’s', async () => {
    expect((await (await chat(alpha, 'gpt-4o-mini')).json()).choices[0].message.content).toBe('Hello there');
    expect(seen.at(-1)).toBe('Bearer sk-alpha-own');
    await chat(alpha, 'groq-llama-3-8b');
    expect(seen.at(-1)).toBe('Bearer gsk-alpha-own');
  });

  it('other projects use the server’s keys, or get the missing-key error', async () => {
    await chat(beta, 'groq-llama-3-8b');
    expect(seen.at(-1)).toBe('Bearer server-groq-key');
    const res = await chat(beta, 'gpt-4o-mini');
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toBe('API key not found for provider OpenAI');
  });

  it('lists the models a project can reach, and forgets a removed key', async () => {
    const list = async (key: string) =>
      ((await (await t.app.request('/v1/models', { headers: { 'x-api-key': key } })).json()) as { models: string[] })
        .models;
    expect(await list(alpha)).toContain('gpt-4o-mini');
    expect(await list(beta)).not.toContain('gpt-4o-mini');
    const { projectId } = (await t.deps.apiKeys.list()).find((k) => k.projectName === 'alpha')!;
    expect(await keys.remove(projectId, 'openai')).toBe(true);
    expect(await list(alpha)).not.toContain('gpt-4o-mini');
  });
});
