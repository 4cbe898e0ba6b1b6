import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSSE } from '../../shared/sse.ts';
import { testApp } from '../../test/helpers/test-app.ts';
import { SCRIPTED_ANSWER } from '../../test/helpers/tiny-models.ts';

async function events(res: Response): Promise<string[]> {
  const out: string[] = [];
  for await (const data of parseSSE(res.body!)) out.push(data);
  return out;
}

describe('LLM routes on the embedded engines (tiny scripted model)', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  beforeAll(async () => {
    t = await testApp();
  });
  afterAll(() => t.cleanup());
  const json = (body: unknown, session?: string) => ({
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(session ? { 'x-session-id': session } : {}) },
    body: JSON.stringify(body),
  });

  it('says no model is loaded (400) and unknown models are 404', async () => {
    const none = await t.app.request('/v1/chat/completions', json({ messages: [{ role: 'user', content: 'hi' }] }));
    expect(none.status).toBe(400);
    expect((await none.json()).error.code).toBe('no_model_loaded');
    const unknown = await t.app.request(
      '/v1/chat/completions',
      json({ model: 'nope', messages: [{ role: 'user', content: 'hi' }] }),
    );
    expect(unknown.status).toBe(404);
    expect((await t.app.request('/v1/models/nope/load', { method: 'POST' })).status).toBe(404);
  });

  it('names the field of bad input', async () => {
    const res = await t.app.request(
      '/v1/chat/completions',
      json({ model: 'tiny-chat', messages: [{ role: 'robot', content: 'x' }] }),
    );
    expect(res.status).toBe(400);
    expect((await res.json()).error.param).toBe('messages.0.role');
    const n = await t.app.request('/v1/chat/completions', json({ model: 'tiny-chat', messages: [], n: 2 }));
    expect((await n.json()).error.param).toBe('n');
    const broken = await t.app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model":',
    });
    expect(broken.status).toBe(400);
  });

  it('loads a model with SSE events and makes it the session’s model', async () => {
    const res = await t.app.request('/v1/models/tiny-chat/load', { method: 'POST' });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const session = res.headers.get('x-session-id')!;
    expect((await events(res)).map((e) => JSON.parse(e))).toEqual([{ status: 'exists' }, { status: 'loaded' }]);
    const info = await (await t.app.request('/v1/session', { headers: { 'x-session-id': session } })).json();
    expect(info).toEqual({ session_id: session, current_model: 'tiny-chat', has_model_loaded: true });
    const again = await t.app.request('/v1/models/tiny-chat/load', { method: 'POST' });
    expect((await events(again)).map((e) => JSON.parse(e))).toEqual([{ status: 'exists' }, { status: 'loaded' }]);
  });

  it('answers a non-streaming completion with the full OpenAI object', async () => {
    const res = await t.app.request(
      '/v1/chat/completions',
      json({ model: 'tiny-chat', temperature: 0, messages: [{ role: 'user', content: 'Who are you?' }] }),
    );
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({
      object: 'chat.completion',
      model: 'tiny-chat',
      choices: [{ index: 0, message: { role: 'assistant', content: SCRIPTED_ANSWER }, finish_reason: 'stop' }],
    });
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(body.usage.completion_tokens).toBeGreaterThan(0);
    expect(body.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it('a session’s second turn reuses its KV cache: usage.prompt_tokens_details.cached_tokens says how much', async () => {
    const session = (await t.app.request('/v1/session')).headers.get('x-session-id')!;
    const history = [{ role: 'user', content: 'Tell me about the quick brown fox and the lazy dog.' }];
    const ask = async (messages: unknown[]) =>
      (
        await (
          await t.app.request('/v1/chat/completions', json({ model: 'tiny-chat', temperature: 0, messages }, session))
        ).json()
      ).usage;
    const first = await ask(history);
    const second = await ask([
      ...history,
      { role: 'assistant', content: SCRIPTED_ANSWER },
      { role: 'user', content: 'More.' },
    ]);
    expect(second.prompt_tokens).toBeGreaterThan(first.prompt_tokens);
    // The first turn's prompt is in the sequence's KV cache; only the answer's end and the new message are evaluated.
    expect(second.prompt_tokens_details.cached_tokens).toBeGreaterThanOrEqual(first.prompt_tokens);
    expect(second.prompt_tokens_details.cached_tokens).toBeLessThan(second.prompt_tokens);
  });

  it('streams chunks: role first, content, finish_reason, usage, [DONE]', async () => {
    const res = await t.app.request(
      '/v1/chat/completions',
      json({
        model: 'tiny-chat',
        stream: true,
        temperature: 0,
        stream_options: { include_usage: true },
        system: 'Be brief.',
        messages: [
          { role: 'ai', content: 'Earlier answer' },
          { role: 'user', content: 'Hello' },
        ],
      }),
    );
    const data = await events(res);
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe(SCRIPTED_ANSWER);
    expect(chunks.at(-2).choices[0].finish_reason).toBe('stop');
    expect(chunks.at(-1).usage.total_tokens).toBeGreaterThan(0);
  });

  it('logprobs: choices[0].logprobs.content per token (top_logprobs alternatives), streamed with each delta', async () => {
    const ask = { model: 'tiny-chat', temperature: 0, messages: [{ role: 'user', content: 'Who are you?' }] };
    const body = await (
      await t.app.request('/v1/chat/completions', json({ ...ask, logprobs: true, top_logprobs: 3 }))
    ).json();
    const content = body.choices[0].logprobs.content;
    expect(content.map((t: { token: string }) => t.token).join('')).toBe(SCRIPTED_ANSWER);
    for (const token of content) {
      expect(token).toMatchObject({ logprob: expect.any(Number), bytes: expect.any(Array) });
      expect(token.top_logprobs).toHaveLength(3);
    }
    expect(body.choices[0].logprobs.refusal).toBeNull();
    const plain = await (await t.app.request('/v1/chat/completions', json(ask))).json();
    expect(plain.choices[0].logprobs).toBeNull();

    const data = await events(
      await t.app.request('/v1/chat/completions', json({ ...ask, logprobs: true, stream: true })),
    );
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d).choices[0]);
    for (const c of chunks.filter((c) => c.delta.content)) {
      expect(c.logprobs.content.map((t: { token: string }) => t.token).join('')).toBe(c.delta.content);
      expect(c.logprobs.content[0].top_logprobs).toEqual([]);
    }
  });

  it('stops at max_tokens with finish_reason length', async () => {
    const res = await t.app.request(
      '/v1/chat/completions',
      json({ model: 'tiny-chat', temperature: 0, max_tokens: 1, messages: [{ role: 'user', content: 'x' }] }),
    );
    const body = await res.json();
    expect(body.choices[0].finish_reason).toBe('length');
    expect(body.usage.completion_tokens).toBe(1);
  });

  it('constrains the answer to a JSON schema with response_format', async () => {
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] };
    const res = await t.app.request(
      '/v1/chat/completions',
      json({
        model: 'tiny-random',
        temperature: 0,
        max_tokens: 40,
        messages: [{ role: 'user', content: 'Answer in JSON' }],
        response_format: { type: 'json_schema', json_schema: { name: 'answer', schema } },
      }),
    );
    const content = (await res.json()).choices[0].message.content;
    expect(typeof JSON.parse(content).ok).toBe('boolean');
  });

  it('stop: 400 without a model, {"status":"stopped"} with one', async () => {
    const fresh = await t.app.request('/v1/stop', { method: 'POST' });
    expect(fresh.status).toBe(400);
    const load = await t.app.request('/v1/models/tiny-chat/load', { method: 'POST' });
    const session = load.headers.get('x-session-id')!;
    await events(load);
    const stopped = await t.app.request('/v1/stop', { method: 'POST', headers: { 'x-session-id': session } });
    expect(await stopped.json()).toEqual({ status: 'stopped' });
  });

  it('unloads a model and frees it', async () => {
    const res = await t.app.request('/v1/models/tiny-chat', { method: 'DELETE' });
    expect(await res.json()).toEqual({ status: 'unloaded', model: 'tiny-chat' });
    const models = await (await t.app.request('/v1/models')).json();
    expect(models.data.find((m: { id: string }) => m.id === 'tiny-chat')).toBeTruthy();
    const again = await t.app.request('/v1/models/tiny-chat/unload', { method: 'POST' });
    expect(await again.json()).toEqual({ status: 'not_loaded', model: 'tiny-chat' });
  });
});
