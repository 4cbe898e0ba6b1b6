import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import type { ChatEvent } from '../../shared/schemas/chat.ts';
import { parseSSE } from '../../shared/sse.ts';
import { localTestInference, testApp } from '../../test/helpers/test-app.ts';
import { SCRIPTED_ANSWER } from '../../test/helpers/tiny-models.ts';
import { ProviderInference } from './provider-inference.ts';
import { createProviderRegistry } from './provider-registry.ts';
import { chunk, HELLO_STREAM } from '../../test/helpers/openai-chunks.ts';

const HELLO = HELLO_STREAM;

/**
 * An OpenAI-compatible upstream behind a `fetch` function (the network is
 * tested in upstream.test.ts): records request bodies; answers 401 to a bad
 * key; streams HELLO, or `la ` every 10 ms until aborted for models named `endless`.
 */
function fakeUpstream() {
  const bodies: Array<Record<string, unknown>> = [];
  const aborted: boolean[] = [];
  const encoder = new TextEncoder();
  const event = (v: unknown) => encoder.encode(`data: ${typeof v === 'string' ? v : JSON.stringify(v)}\n\n`);
  const fetch = async (_url: string, init: RequestInit) => {
    const body = JSON.parse(init.body as string) as Record<string, unknown>;
    bodies.push(body);
    const i = aborted.push(false) - 1;
    init.signal?.addEventListener('abort', () => (aborted[i] = true));
    if ((init.headers as Record<string, string>).authorization === 'Bearer bad-key') {
      return Response.json({ error: { message: 'Invalid API Key', code: 'invalid_api_key' } }, { status: 401 });
    }
    let timer: ReturnType<typeof setInterval> | undefined;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        if (body.model !== 'endless') {
          for (const e of HELLO) controller.enqueue(event(e));
          controller.close();
          return;
        }
        timer = setInterval(() => controller.enqueue(event(chunk({ content: 'la ' }))), 10);
        init.signal?.addEventListener('abort', () => {
          clearInterval(timer);
          controller.error(init.signal!.reason);
        });
      },
      cancel: () => clearInterval(timer),
    });
    return new Response(stream, { headers: { 'content-type': 'text/event-stream' } });
  };
  return { fetch, bodies, aborted };
}

const providersFile = {
  providers: { fake: { name: 'Fake', baseUrl: 'http://fake.test/v1', apiKey: 'k', models: { endless: 'endless' } } },
};

async function collect(events: AsyncIterable<ChatEvent>): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

describe('ProviderInference', () => {
  const upstream = fakeUpstream();
  const inference = new ProviderInference(
    localTestInference(),
    createProviderRegistry({ GROQ_API_KEY: 'gsk' }, { fetch: upstream.fetch, providersFile }),
  );
  const user = (model: string) => ({ model, temperature: 0, messages: [{ role: 'user' as const, content: 'Hi' }] });

  it('sends provider slugs to the provider (with the upstream model id) and catalog names to the wrapped engines', async () => {
    const remote = await collect(await inference.chat(user('groq-llama-3-8b'), { sessionId: 's1' }));
    expect(remote.filter((e) => e.type === 'text').map((e) => e.text)).toEqual(['Hello', ' there']);
    expect(upstream.bodies.at(-1)!.model).toBe('llama3-8b-8192');
    const sent = upstream.bodies.length;
    const local = await collect(await inference.chat({ ...user('tiny-chat'), maxTokens: 32 }, { sessionId: 's1' }));
    const text = local.flatMap((e) => (e.type === 'text' ? [e.text] : [])).join('');
    expect(text).toBe(SCRIPTED_ANSWER);
    expect(upstream.bodies).toHaveLength(sent);
  });

  it('text completions go to the wrapped engines; a hosted model is a 400 on model', async () => {
    const sent = upstream.bodies.length;
    const local = await collect(await inference.complete({ model: 'tiny-chat', prompt: 'Once' }, { sessionId: 's1' }));
    expect(local.flatMap((e) => (e.type === 'text' ? [e.text] : [])).join('')).toBe(SCRIPTED_ANSWER);
    await expect(
      inference.complete({ model: 'groq-llama-3-8b', prompt: 'Once' }, { sessionId: 's1' }),
    ).rejects.toMatchObject({ status: 400, param: 'model', message: expect.stringMatching(/chat\/completions/) });
    expect(upstream.bodies).toHaveLength(sent);
  });

  it('lists the wrapped models plus the models of configured providers', async () => {
    const models = await inference.listModels();
    const ids = models.map((m) => m.id);
    expect(ids).toEqual(
      expect.arrayContaining(['tiny-chat', 'tiny-random', 'tiny-loop', 'groq-llama-3-8b', 'endless']),
    );
    expect(ids).not.toContain('gpt-4o-mini');
    expect(models.find((m) => m.id === 'groq-llama-3.1-8b')).toEqual({
      id: 'groq-llama-3.1-8b',
      kind: 'llm',
      loaded: true,
    });
  });

  it('lists provider models alone when the wrapped side is down', async () => {
    const noRunner = localTestInference();
    noRunner.listModels = () => Promise.reject(new AppError(503, 'No runner is available'));
    const down = new ProviderInference(noRunner, createProviderRegistry({ GROQ_API_KEY: 'gsk' }));
    expect((await down.listModels()).map((m) => m.id)).toEqual(['groq-llama-3-8b', 'groq-llama-3.1-8b']);
    const none = new ProviderInference(noRunner, createProviderRegistry({}));
    await expect(none.listModels()).rejects.toMatchObject({ status: 503 });
  });

  it('"loads" a provider model at once, refuses one without a key, and unloads nothing', async () => {
    const events: unknown[] = [];
    for await (const e of await inference.loadModel('groq-llama-3-8b')) events.push(e);
    expect(events).toEqual([{ status: 'exists' }, { status: 'loaded' }]);
    await expect(inference.loadModel('gpt-4o-mini')).rejects.toMatchObject({
      status: 400,
      message: 'API key not found for provider OpenAI',
    });
    await expect(inference.chat(user('claude-3-haiku'), { sessionId: 's1' })).rejects.toMatchObject({
      status: 400,
      message: 'API key not found for provider Anthropic',
    });
    expect(await inference.unloadModel('groq-llama-3-8b')).toBe(false);
  });

  it('stop() aborts the session’s provider stream (it ends with "stop"), not other sessions’', async () => {
    const mine = await inference.chat(user('endless'), { sessionId: 'mine' });
    const theirs = await inference.chat(user('endless'), { sessionId: 'theirs' });
    const [mineIndex, theirsIndex] = [upstream.aborted.length - 2, upstream.aborted.length - 1];
    const seen: ChatEvent[] = [];
    for await (const e of mine) {
      seen.push(e);
      if (seen.length === 2) expect(await inference.stop('mine')).toBe(true);
    }
    expect(seen.at(-1)).toMatchObject({ type: 'done', finishReason: 'stop' });
    expect(upstream.aborted[mineIndex]).toBe(true);
    expect(upstream.aborted[theirsIndex]).toBe(false);
    expect(await inference.stop('mine')).toBe(false);
    const iterator = theirs[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toEqual({ type: 'text', text: 'la ' });
    await iterator.return!();
    expect(upstream.aborted[theirsIndex]).toBe(true);
  });
});

describe('ProviderInference behind the app (POST /v1/chat/completions)', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  const upstream = fakeUpstream();
  beforeAll(async () => {
    const registry = createProviderRegistry(
      { GROQ_API_KEY: 'gsk', OPENAI_API_KEY: 'bad-key' },
      { fetch: upstream.fetch, providersFile },
    );
    t = await testApp({ inference: new ProviderInference(localTestInference(), registry) });
  });
  afterAll(() => t.cleanup());
  const post = (body: unknown, session?: string) => ({
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(session ? { 'x-session-id': session } : {}) },
    body: JSON.stringify(body),
  });
  const messages = [{ role: 'user', content: 'Hi' }];

  it('answers from the provider in OpenAI’s shape, streaming or not, under our slug', async () => {
    const res = await t.app.request('/v1/chat/completions', post({ model: 'groq-llama-3-8b', messages }));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      object: 'chat.completion',
      model: 'groq-llama-3-8b',
      choices: [{ message: { role: 'assistant', content: 'Hello there' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
    });
    const stream = await t.app.request(
      '/v1/chat/completions',
      post({ model: 'groq-llama-3-8b', messages, stream: true, stream_options: { include_usage: true } }),
    );
    const data: string[] = [];
    for await (const d of parseSSE(stream.body!)) data.push(d);
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('Hello there');
    expect(chunks.at(-1).usage).toEqual({ prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 });
  });

  it('renders a missing key and an upstream refusal as OpenAI errors', async () => {
    const missing = await t.app.request('/v1/chat/completions', post({ model: 'claude-3-haiku', messages }));
    expect(missing.status).toBe(400);
    expect((await missing.json()).error.message).toBe('API key not found for provider Anthropic');
    const refused = await t.app.request('/v1/chat/completions', post({ model: 'gpt-4o-mini', messages }));
    expect(refused.status).toBe(401);
    expect((await refused.json()).error).toMatchObject({
      message: 'OpenAI (upstream) says: Invalid API Key',
      code: 'invalid_api_key',
    });
  });

  it('lists provider models, loads one for the session, and POST /v1/stop ends its stream', async () => {
    const list = await (await t.app.request('/v1/models')).json();
    expect(list.models).toEqual(expect.arrayContaining(['tiny-chat', 'groq-llama-3-8b', 'endless']));
    const load = await t.app.request('/v1/models/endless/load', { method: 'POST' });
    const session = load.headers.get('x-session-id')!;
    for await (const _ of parseSSE(load.body!));
    const res = await t.app.request('/v1/chat/completions', post({ messages, stream: true }, session));
    expect(upstream.bodies.at(-1)!.model).toBe('endless');
    let finish: string | null = null;
    let stopped: Promise<Response> | undefined;
    for await (const d of parseSSE(res.body!)) {
      if (d === '[DONE]') break;
      const c = JSON.parse(d);
      finish = c.choices[0]?.finish_reason ?? finish;
      if (c.choices[0]?.delta?.content) {
        stopped ??= Promise.resolve(
          t.app.request('/v1/stop', { method: 'POST', headers: { 'x-session-id': session } }),
        );
      }
    }
    expect(await (await stopped!).json()).toEqual({ status: 'stopped' });
    expect(finish).toBe('stop');
    expect(upstream.aborted.at(-1)).toBe(true);
  });
});
