import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../../test/helpers/test-app.ts';
import { SCRIPTED_ANSWER } from '../../test/helpers/tiny-models.ts';

let t: Awaited<ReturnType<typeof testApp>>;
beforeAll(async () => {
  t = await testApp();
});
afterAll(() => t.cleanup());

const post = (path: string, body: unknown, session?: string) =>
  t.app.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(session ? { 'x-session-id': session } : {}) },
    body: JSON.stringify(body),
  });

/** A response with its volatile fields (ids, timestamps) blanked, to compare two endpoints' answers. */
const stable = (text: string) =>
  text.replace(/chatcmpl-[A-Za-z0-9]+/g, 'chatcmpl-x').replace(/"created":\d+/g, '"created":0');

describe('POST /v1/ai/process', () => {
  it('llm answers exactly as /v1/chat/completions does, streaming or not', async () => {
    const config = { model: 'tiny-chat', temperature: 0, messages: [{ role: 'user', content: 'hi' }] };
    const direct = await post('/v1/chat/completions', config);
    const unified = await post('/v1/ai/process', { tool: 'llm', config });
    expect(unified.status).toBe(direct.status);
    const body = await unified.json();
    expect(body.choices[0].message.content).toBe(SCRIPTED_ANSWER);
    expect(stable(JSON.stringify(body))).toBe(stable(JSON.stringify(await direct.json())));

    const streamDirect = await (await post('/v1/chat/completions', { ...config, stream: true })).text();
    const streamed = await post('/v1/ai/process', { tool: 'llm', config: { ...config, stream: true } });
    expect(streamed.headers.get('content-type')).toContain('text/event-stream');
    expect(stable(await streamed.text())).toBe(stable(streamDirect));
  });

  it("llm continues the X-Session-ID session's conversation and model", async () => {
    const first = await post('/v1/ai/process', {
      tool: 'llm',
      config: { model: 'tiny-chat', temperature: 0, system: 'Be brief.', messages: [{ role: 'user', content: 'hi' }] },
    });
    const session = first.headers.get('x-session-id')!;
    await first.json();
    const next = await post(
      '/v1/ai/process',
      { tool: 'llm', config: { temperature: 0, messages: [{ role: 'user', content: 'again' }] } },
      session,
    );
    expect(next.status).toBe(200);
    expect((await next.json()).choices[0].message.content).toBe(SCRIPTED_ANSWER);
    const state = await (await t.app.request('/v1/session', { headers: { 'x-session-id': session } })).json();
    expect(state).toMatchObject({ current_model: 'tiny-chat' });
  });

  it('names the tool or the config field at fault, and says which tools this deployment lacks', async () => {
    const unknown = await post('/v1/ai/process', { tool: 'teleport', config: {} });
    expect(unknown.status).toBe(400);
    const error = (await unknown.json()).error;
    expect(error.message).toMatch(
      /^tool: unknown tool "teleport"; use one of llm, url_analyze, url_extract, url_stream, /,
    );
    expect(error.param).toBe('tool');

    const bad = await post('/v1/ai/process', {
      tool: 'llm',
      config: { model: 'tiny-chat', messages: [{ role: 'robot', content: 'x' }] },
    });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatchObject({
      param: 'config.messages.0.role',
      message: expect.stringMatching(/^config\.messages\.0\.role: /),
    });

    const missing = await post('/v1/ai/process', { config: {} });
    expect((await missing.json()).error.param).toBe('tool');

    const planned = await post('/v1/ai/process', { tool: 'translation', config: { text: 'x' } });
    expect(planned.status).toBe(503);
    expect((await planned.json()).error).toMatchObject({
      code: 'tool_unavailable',
      message: 'tool: translation is not available on this deployment yet',
    });

    const unknownModel = await post('/v1/ai/process', {
      tool: 'llm',
      config: { model: 'nope', messages: [{ role: 'user', content: 'x' }] },
    });
    expect(unknownModel.status).toBe(404);
  });

  it('system_metrics answers one reading in the document shape, tagged with its runner', async () => {
    const res = await post('/v1/ai/process', { tool: 'system_metrics', config: {} });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({
      runner: 'embedded',
      cpu: {
        percent: expect.any(Number),
        frequency_current: expect.any(Number),
        frequency_max: expect.any(Number),
        cores: expect.any(Number),
      },
      memory: {
        total: expect.any(Number),
        available: expect.any(Number),
        used: expect.any(Number),
        percent: expect.any(Number),
      },
      gpu: expect.any(Array),
    });
  });
});
