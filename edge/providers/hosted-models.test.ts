import { afterEach, describe, expect, it } from 'vitest';
import { HELLO_STREAM } from '../../test/helpers/openai-chunks.ts';
import { localTestInference, testApp } from '../../test/helpers/test-app.ts';
import { ProjectHostedModels } from './hosted-models.ts';
import { ProjectProviderKeys } from './project-keys.ts';
import { ProviderInference } from './provider-inference.ts';
import { createProviderRegistry } from './provider-registry.ts';

/** Which hosted models a caller may use: the operator's aliases, passthrough only where allowed, per-project lists. */
describe('hosted models a project may use', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => cleanups.splice(0).forEach((f) => f()));
  const sent: string[] = [];
  const upstream = async (_url: string, init: RequestInit) => {
    sent.push(JSON.parse(init.body as string).model);
    const body = HELLO_STREAM.map((e) => `data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`).join('');
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
  };
  const providersFile = {
    providers: {
      open: { name: 'Open', baseUrl: 'http://open.test/v1', apiKey: 'k', models: {}, passthrough: true },
      shut: { name: 'Shut', baseUrl: 'http://shut.test/v1', apiKey: 'k', models: { 'shut-small': 'small' } },
    },
  };

  async function make(env: Record<string, string> = {}) {
    const t = await testApp({ keyCacheTtlMs: 0 });
    cleanups.push(t.cleanup);
    const registry = createProviderRegistry(
      { OPENAI_API_KEY: 'sk-server', GROQ_API_KEY: 'gsk', ...env },
      { fetch: upstream, providersFile },
    );
    const keys = new ProjectProviderKeys(t.db, { cacheTtlMs: 0 });
    const lists = new ProjectHostedModels(t.db, { cacheTtlMs: 0 });
    t.deps.inference = new ProviderInference(localTestInference(), registry, keys, lists);
    const { createApp } = await import('../app.ts');
    const app = createApp(t.deps);
    const chat = (model: string, headers: Record<string, string> = {}) =>
      app.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hi' }] }),
      });
    const models = async (headers: Record<string, string> = {}) =>
      ((await (await app.request('/v1/models', { headers })).json()) as { models: string[] }).models;
    return { ...t, app, chat, models, keys, lists };
  }

  it('serves the aliases, and refuses provider/<any model> unless passthrough is allowed', async () => {
    const t = await make();
    expect((await t.chat('gpt-4o-mini')).status).toBe(200);
    expect((await t.chat('openai/gpt-4o-mini')).status).toBe(200); // a listed model under its provider's prefix
    expect((await t.chat('shut/shut-small')).status).toBe(200);
    const refused = await t.chat('openai/o3-pro');
    expect(refused.status).toBe(403);
    const { error } = await refused.json();
    expect(error.code).toBe('model_not_allowed');
    expect(error.param).toBe('model');
    expect(error.message).toContain('PROVIDER_PASSTHROUGH=openai');
    expect((await t.chat('shut/anything')).status).toBe(403);
    // A providers.json entry with passthrough: true.
    expect((await t.chat('open/any-model')).status).toBe(200);
    expect(sent.at(-1)).toBe('any-model');
    // And the load route does not pick a refused model for the session either.
    expect((await t.app.request('/v1/models/openai%2Fo3-pro/load', { method: 'POST' })).status).toBe(403);
  });

  it('PROVIDER_PASSTHROUGH opens the providers it names', async () => {
    const t = await make({ PROVIDER_PASSTHROUGH: 'openai' });
    expect((await t.chat('openai/o3-pro')).status).toBe(200);
    expect(sent.at(-1)).toBe('o3-pro');
    expect((await t.chat('groq/mixtral')).status).toBe(403);
    const all = await make({ PROVIDER_PASSTHROUGH: '*' });
    expect((await all.chat('groq/mixtral')).status).toBe(200);
  });

  it('a project on its own provider key may name any of that provider’s models', async () => {
    const t = await make();
    const own = await t.deps.apiKeys.create('own');
    const other = await t.deps.apiKeys.create('other');
    await t.keys.set(own.projectId, 'openai', 'sk-own');
    expect((await t.chat('openai/o3-pro', { 'x-api-key': own.key })).status).toBe(200);
    expect((await t.chat('openai/o3-pro', { 'x-api-key': other.key })).status).toBe(403);
  });

  it('a project list decides what the project may use and see', async () => {
    const t = await make({ PROVIDER_PASSTHROUGH: '*' });
    const limited = await t.deps.apiKeys.create('limited');
    const free = await t.deps.apiKeys.create('free');
    await t.lists.set(limited.projectId, ['gpt-4o-mini', 'groq/*']);
    const as = { 'x-api-key': limited.key };
    expect((await t.chat('gpt-4o-mini', as)).status).toBe(200);
    expect((await t.chat('groq-llama-3-8b', as)).status).toBe(200); // an alias served by groq
    expect((await t.chat('groq/mixtral', as)).status).toBe(200);
    const refused = await t.chat('gpt-4o', as);
    expect(refused.status).toBe(403);
    expect((await refused.json()).error.message).toContain('npm run keys -- hosted allow');
    expect((await t.chat('openai/o3-pro', as)).status).toBe(403);
    const seen = await t.models(as);
    expect(seen).toEqual(expect.arrayContaining(['gpt-4o-mini', 'groq-llama-3-8b', 'tiny-chat']));
    expect(seen).not.toContain('gpt-4o');
    // Local models are not hosted ones: untouched. Other projects keep the default policy.
    expect(await t.models({ 'x-api-key': free.key })).toContain('gpt-4o');
    await t.lists.set(limited.projectId, null);
    expect((await t.chat('gpt-4o', as)).status).toBe(200);
  });
});
