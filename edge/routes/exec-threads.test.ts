import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentEvents, execCaller, execTestApp } from '../../test/helpers/exec-app.ts';
import { scriptedUpstream, type ScriptedUpstream } from '../../test/helpers/scripted-upstream.ts';

let upstream: ScriptedUpstream;
let t: Awaited<ReturnType<typeof execTestApp>>;
let keyA: string;
let keyA2: string;
let keyB: string;
beforeAll(async () => {
  upstream = await scriptedUpstream();
  t = await execTestApp(upstream);
  keyA = (await t.deps.apiKeys.create('project-a')).key;
  keyA2 = (await t.deps.apiKeys.create('project-a')).key;
  keyB = (await t.deps.apiKeys.create('project-b')).key;
});
afterAll(async () => {
  await upstream.close();
  t.cleanup();
});

const call: ReturnType<typeof execCaller> = (...args) => execCaller(t.app)(...args);

describe('/llm-exec auth', () => {
  it('needs a credential once keys exist, in the /llm-exec error shape', async () => {
    const res = await t.app.request('/llm-exec/round', {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(401);
    const body = await res.json();
    expect(body.statusCode).toBe(401);
    expect(typeof body.error).toBe('string');
    const bad = await t.app.request('/llm-exec/threads', { headers: { authorization: 'Basic abc' } });
    expect(bad.status).toBe(401);
    expect((await bad.json()).error).toBe('Invalid authorization format. Must start with Bearer or Entity');
  });
});

describe('threads', () => {
  it('new_thread stores the round and returns its id; thread_id continues it', async () => {
    upstream.script([{ text: 'Nice to meet you, Ada.' }]);
    const first = await (
      await call(keyA, '/round', {
        model: 'gpt-4o-mini',
        new_thread: true,
        messages: [{ role: 'user', content: 'I am Ada.' }],
      })
    ).json();
    expect(first.thread_id).toMatch(/^thread_/);

    upstream.script([{ text: 'You are Ada.' }]);
    const res = await call(keyA2, '/round/stream', {
      model: 'gpt-4o-mini',
      thread_id: first.thread_id,
      messages: [{ role: 'user', content: 'Who am I?' }],
    });
    const events = documentEvents(await res.text());
    expect(events[0]).toMatchObject({ type: 'start', message: { thread_id: first.thread_id } });
    expect(events.at(-1)).toMatchObject({ type: 'end', thread_id: first.thread_id });
    const sent = upstream.requests.at(-1)!.messages.map((m) => [m.role, m.content]);
    expect(sent).toEqual([
      ['user', 'I am Ada.'],
      ['assistant', 'Nice to meet you, Ada.'],
      ['user', 'Who am I?'],
    ]);

    const thread = await (await call(keyA, `/threads/${first.thread_id}`)).json();
    expect(thread.messages.map((m: { content: string }) => m.content)).toEqual([
      'I am Ada.',
      'Nice to meet you, Ada.',
      'Who am I?',
      'You are Ada.',
    ]);
  });

  it('keeps tool calls in the thread, so a client tool answer continues with thread_id alone', async () => {
    const ask = {
      type: 'custom',
      name: 'ask_user',
      parameters: { type: 'object', properties: { q: { type: 'string' } } },
    };
    upstream.script([{ calls: [{ name: 'ask_user', arguments: { q: 'city?' }, id: 'call_t1' }] }]);
    const first = await (
      await call(keyA, '/round', {
        model: 'gpt-4o-mini',
        new_thread: true,
        tools: [ask],
        messages: [{ role: 'user', content: 'weather' }],
      })
    ).json();
    expect(first.finish_reason).toBe('tool_calls');
    upstream.script([{ text: 'Rain in Brest.' }]);
    const next = await (
      await call(keyA, '/round', {
        model: 'gpt-4o-mini',
        thread_id: first.thread_id,
        tools: [ask],
        messages: [{ role: 'tool_response', tool_call_id: 'call_t1', content: 'Brest' }],
      })
    ).json();
    expect(next.message.content).toBe('Rain in Brest.');
    const thread = await (await call(keyA, `/threads/${first.thread_id}`)).json();
    expect(thread.messages.map((m: { role: string }) => m.role)).toEqual([
      'user',
      'assistant',
      'tool_response',
      'assistant',
    ]);
    expect(thread.messages[1].tool_calls).toEqual([{ id: 'call_t1', name: 'ask_user', arguments: { q: 'city?' } }]);
  });

  it("lists, gets and deletes the caller's threads; another project's thread is a 404", async () => {
    const created = await (await call(keyA, '/threads', {})).json();
    expect(created.id).toMatch(/^thread_/);
    const list = await (await call(keyA, '/threads?limit=100')).json();
    expect(list.data.map((x: { id: string }) => x.id)).toContain(created.id);
    const others = await (await call(keyB, '/threads')).json();
    expect(others.data.map((x: { id: string }) => x.id)).not.toContain(created.id);

    const foreign = await call(keyB, `/threads/${created.id}`);
    expect(foreign.status).toBe(404);
    expect(await foreign.json()).toEqual({ error: `Thread ${created.id} not found`, statusCode: 404 });
    upstream.script([{ text: 'x' }]);
    const foreignRound = await call(keyB, '/round', {
      model: 'gpt-4o-mini',
      thread_id: created.id,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(foreignRound.status).toBe(404);
    expect((await call(keyB, `/threads/${created.id}`, undefined, 'DELETE')).status).toBe(404);

    expect(await (await call(keyA, `/threads/${created.id}`, undefined, 'DELETE')).json()).toEqual({
      id: created.id,
      deleted: true,
    });
    expect((await call(keyA, `/threads/${created.id}`)).status).toBe(404);
  });

  it('pages threads newest first', async () => {
    for (let i = 0; i < 3; i++) {
      await call(keyB, '/threads', { metadata: { i } });
      await new Promise((r) => setTimeout(r, 3));
    }
    const page = await (await call(keyB, '/threads?limit=2')).json();
    expect(page.data.map((x: { metadata: { i: number } }) => x.metadata.i)).toEqual([2, 1]);
    expect(page.has_more).toBe(true);
    const rest = await (await call(keyB, `/threads?limit=2&after=${page.last_id}`)).json();
    expect(rest.data.map((x: { metadata: { i: number } }) => x.metadata.i)).toEqual([0]);
    expect((await call(keyB, '/threads?limit=0')).status).toBe(400);
  });

  it('runs one round at a time on a thread: a second one meanwhile is a 409', async () => {
    const thread = await (await call(keyA, '/threads', {})).json();
    upstream.script([{ hang: true }]);
    const client = new AbortController();
    const first = await t.app.request('/llm-exec/round/stream', {
      method: 'POST',
      headers: { 'x-api-key': keyA, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        thread_id: thread.id,
        messages: [{ role: 'user', content: 'talk' }],
      }),
      signal: client.signal,
    });
    const reader = first.body!.getReader();
    await reader.read();
    const second = await call(keyA, '/round', {
      model: 'gpt-4o-mini',
      thread_id: thread.id,
      messages: [{ role: 'user', content: 'me too' }],
    });
    expect(second.status).toBe(409);
    expect((await second.json()).error).toMatch(/has a round running/);
    client.abort();
    await reader.cancel();
    upstream.script([{ text: 'now' }]);
    await expect
      .poll(
        async () =>
          (
            await call(keyA, '/round', {
              model: 'gpt-4o-mini',
              thread_id: thread.id,
              messages: [{ role: 'user', content: 'again' }],
            })
          ).status,
      )
      .toBe(200);
  });

  it('keeps the tool calls that ran when a round fails later, so a retry does not repeat them', async () => {
    let runs = 0;
    const search = {
      name: 'web_search',
      parameters: { type: 'object', properties: {} },
      run: async () => ({ result: `run ${++runs}` }),
    };
    const withTool = await execTestApp(upstream, { adapters: { websearch: () => [search] } });
    upstream.script([{ calls: [{ name: 'web_search', arguments: {} }] }, { status: 400, error: 'upstream refused' }]);
    const res = await withTool.app.request('/llm-exec/round', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        new_thread: true,
        tools: [{ type: 'websearch' }],
        messages: [{ role: 'user', content: 'search' }],
      }),
    });
    expect(res.status).toBe(400);
    const [thread] = (await (await withTool.app.request('/llm-exec/threads')).json()).data;
    const stored = await (await withTool.app.request(`/llm-exec/threads/${thread.id}`)).json();
    expect(stored.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'tool_response']);
    expect(stored.messages[2].content).toBe('run 1');
    withTool.cleanup();
  });

  it('leaves no empty thread behind when new_thread asks for a round refused before it starts', async () => {
    const { key } = await t.deps.apiKeys.create('project-refused');
    const res = await call(key, '/round', {
      model: 'claude-3-haiku',
      new_thread: true,
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(res.status).toBe(400);
    expect((await (await call(key, '/threads')).json()).data).toEqual([]);
  });
});
