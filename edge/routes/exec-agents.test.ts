import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_SUB_ROUNDS } from '../exec/round-services.ts';
import { MAX_AGENT_DEPTH } from '../exec/tools/callable.ts';
import { documentEvents, execCaller, execTestApp } from '../../test/helpers/exec-app.ts';
import { scriptedUpstream, type ScriptedUpstream, type UpstreamRequest } from '../../test/helpers/scripted-upstream.ts';

let upstream: ScriptedUpstream;
let t: Awaited<ReturnType<typeof execTestApp>>;
let keyA: string;
let keyB: string;
beforeAll(async () => {
  upstream = await scriptedUpstream();
  t = await execTestApp(upstream);
  keyA = (await t.deps.apiKeys.create('agents-a')).key;
  keyB = (await t.deps.apiKeys.create('agents-b')).key;
});
afterAll(async () => {
  await upstream.close();
  t.cleanup();
});

const call: ReturnType<typeof execCaller> = (...args) => execCaller(t.app)(...args);

const system = (body: UpstreamRequest) => String(body.messages.find((m) => m.role === 'system')?.content ?? '');
const lastTool = (body: UpstreamRequest) => body.messages.at(-1)?.role === 'tool';

describe('/llm-exec/agents', () => {
  it('creates, reads by id or slug, lists, replaces and deletes agents of the project only', async () => {
    const created = await call(keyA, '/agents', {
      slug: 'translator',
      model: 'gpt-4o-mini',
      instructions: 'Translate to French.',
    });
    expect(created.status).toBe(201);
    const agent = await created.json();
    expect(agent).toMatchObject({
      id: expect.stringMatching(/^agent_/),
      slug: 'translator',
      name: 'translator',
      model: 'gpt-4o-mini',
    });
    expect(await (await call(keyA, '/agents/translator')).json()).toMatchObject({ id: agent.id });
    expect(await (await call(keyA, `/agents/${agent.id}`)).json()).toMatchObject({ slug: 'translator' });
    expect((await (await call(keyA, '/agents')).json()).data.map((a: { id: string }) => a.id)).toContain(agent.id);

    expect((await call(keyB, `/agents/${agent.id}`)).status).toBe(404);
    expect((await (await call(keyB, '/agents')).json()).data).toEqual([]);
    const dup = await call(keyA, '/agents', { slug: 'translator', model: 'gpt-4o-mini' });
    expect(dup.status).toBe(409);
    expect((await call(keyB, '/agents', { slug: 'translator', model: 'gpt-4o-mini' })).status).toBe(201);

    const replaced = await call(
      keyA,
      `/agents/${agent.id}`,
      { slug: 'traducteur', name: 'Traducteur', model: 'gpt-4o-mini' },
      'PUT',
    );
    expect(await replaced.json()).toMatchObject({ id: agent.id, slug: 'traducteur', name: 'Traducteur' });
    expect((await call(keyA, '/agents/traducteur', undefined, 'DELETE')).status).toBe(200);
    expect((await call(keyA, `/agents/${agent.id}`)).status).toBe(404);

    const bad = await call(keyA, '/agents', { slug: 'Bad Slug', model: 'm' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatch(/^slug: /);
    const badTool = await call(keyA, '/agents', { slug: 'x', model: 'm', tools: [{ type: 'custom' }] });
    expect((await badTool.json()).error).toMatch(/^tools\.0\.name: /);
  });
});

describe('callable tools', () => {
  it('runs the agent as a sub-round: its events nested in the parent stream, its answer the result, its usage summed', async () => {
    await call(keyA, '/agents', { slug: 'researcher', model: 'gpt-4o-mini', instructions: 'You are the researcher.' });
    upstream.script((body) => {
      if (system(body).includes('researcher'))
        return { text: 'The sky is blue.', usage: { prompt_tokens: 7, completion_tokens: 4 } };
      if (lastTool(body)) return { text: 'Researcher says: blue.' };
      return { calls: [{ name: 'researcher', arguments: { input: 'What colour is the sky?' } }] };
    });
    const res = await call(keyA, '/round/stream', {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'sky?' }],
      tools: [{ type: 'callable', callable_id: 'researcher' }],
    });
    const events = documentEvents(await res.text());
    const parentCall = events.find((e) => e.type === 'tool_call' && !e.nested)!;
    expect(parentCall).toMatchObject({ tool_name: 'researcher', args: { input: 'What colour is the sky?' } });
    const nested = events.filter((e) => e.nested);
    expect(nested.map((e) => e.type)).toEqual(['start', 'chunk', 'chunk', 'chunk', 'chunk', 'end']);
    expect(nested[0]!.nested).toEqual({ call_id: parentCall.id, agent: 'researcher', depth: 1 });
    expect(events.find((e) => e.type === 'tool_result' && !e.nested)).toMatchObject({
      id: parentCall.id,
      result: 'The sky is blue.',
    });
    const end = events.at(-1)!;
    expect(end).toMatchObject({
      type: 'end',
      finish_reason: 'stop',
      usage: { prompt_tokens: 27, completion_tokens: 14 },
    });
  });

  it('stops a cycle and a chain deeper than the limit with a tool error the model reads', async () => {
    await call(keyA, '/agents', {
      slug: 'looper',
      model: 'gpt-4o-mini',
      instructions: 'You are the looper.',
      tools: [{ type: 'callable', callable_id: 'looper' }],
    });
    upstream.script((body) =>
      lastTool(body)
        ? { text: `saw: ${body.messages.at(-1)!.content}` }
        : { calls: [{ name: 'looper', arguments: { input: 'again' } }] },
    );
    const res = await call(keyA, '/round', {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'go' }],
      tools: [{ type: 'callable', callable_id: 'looper' }],
    });
    const body = await res.json();
    expect(body.finish_reason).toBe('stop');
    // The parent called looper; looper calling itself is the cycle, refused inside the sub-round.
    expect(body.message.content).toMatch(/saw: saw: Error: agent "looper" is already running above this call/);

    // A chain a → b → c → d: each a distinct agent, one level deeper than allowed.
    const names = ['chain-1', 'chain-2', 'chain-3', 'chain-4'];
    for (let i = names.length - 1; i >= 0; i--) {
      const next = names[i + 1];
      await call(keyA, '/agents', {
        slug: names[i],
        model: 'gpt-4o-mini',
        instructions: `You are ${names[i]}.`,
        tools: next ? [{ type: 'callable', callable_id: next }] : [],
      });
    }
    upstream.script((body) => {
      if (lastTool(body)) return { text: String(body.messages.at(-1)!.content) };
      const offered = body.tools?.[0]?.function.name;
      return offered ? { calls: [{ name: offered, arguments: { input: 'deeper' } }] } : { text: 'bottom' };
    });
    const chain = await call(keyA, '/round', {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'go' }],
      tools: [{ type: 'callable', callable_id: 'chain-1' }],
    });
    expect((await chain.json()).message.content).toBe(`Error: agents may nest at most ${MAX_AGENT_DEPTH} deep`);
  });

  it('refuses an unknown or foreign agent with a 400 naming the tool', async () => {
    const res = await call(keyB, '/round', {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
      tools: [{ type: 'callable', callable_id: 'researcher' }],
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: 'tools.0: callable_id: no agent "researcher" in this project',
      statusCode: 400,
    });
  });

  it('bounds the sub-agents one round may start', async () => {
    await call(keyA, '/agents', { slug: 'worker', model: 'gpt-4o-mini', instructions: 'You are the worker.' });
    const calls = Array.from({ length: MAX_SUB_ROUNDS + 1 }, (_, i) => ({
      name: 'worker',
      arguments: { input: `job ${i}` },
    }));
    upstream.script((body) => {
      if (system(body).includes('worker')) return { text: 'done' };
      return lastTool(body) ? { text: 'all dispatched' } : { calls };
    });
    const res = await call(keyA, '/round', {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'go' }],
      tools: [{ type: 'callable', callable_id: 'worker' }],
    });
    const body = await res.json();
    const results = body.messages
      .filter((m: { role: string }) => m.role === 'tool_response')
      .map((m: { content: string }) => m.content);
    expect(results.filter((r: string) => r === 'done')).toHaveLength(MAX_SUB_ROUNDS);
    expect(results.filter((r: string) => r.startsWith('Error: a round may run at most'))).toHaveLength(1);
  });
});
