import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ASK, documentEvents, execTestApp, json, searchTool } from '../../test/helpers/exec-app.ts';
import { scriptedUpstream, type ScriptedUpstream } from '../../test/helpers/scripted-upstream.ts';

let upstream: ScriptedUpstream;
beforeAll(async () => {
  upstream = await scriptedUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => {
  upstream.requests.length = 0;
});

describe('client-side tools', () => {
  it('ends with tool_calls and pending ids; tool_response messages continue the round', async () => {
    const { app } = await execTestApp(upstream);
    upstream.script([
      { text: 'Let me ask. ', calls: [{ name: 'ask_user', arguments: { q: 'Which city?' }, id: 'call_abc' }] },
    ]);
    const first = await (
      await app.request(
        '/llm-exec/round',
        json({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'weather' }], tools: [ASK] }),
      )
    ).json();
    expect(first.finish_reason).toBe('tool_calls');
    expect(first.message).toEqual({
      role: 'assistant',
      content: 'Let me ask. ',
      tool_calls: [{ id: 'call_abc', name: 'ask_user', arguments: { q: 'Which city?' } }],
    });

    upstream.script([{ text: 'Sunny in Paris.' }]);
    const messages = [
      { role: 'user', content: 'weather' },
      { role: 'tool_request', content: 'Let me ask. ', tool_calls: first.message.tool_calls },
      { role: 'tool_response', tool_call_id: 'call_abc', name: 'ask_user', content: 'Paris' },
    ];
    const second = await (
      await app.request('/llm-exec/round', json({ model: 'gpt-4o-mini', messages, tools: [ASK] }))
    ).json();
    expect(second).toMatchObject({ finish_reason: 'stop', message: { content: 'Sunny in Paris.' } });
    const sent = upstream.requests.at(-1)!.messages;
    expect(sent.at(-2)).toMatchObject({
      role: 'assistant',
      tool_calls: [{ id: 'call_abc', function: { name: 'ask_user' } }],
    });
    expect(sent.at(-1)).toEqual({ role: 'tool', tool_call_id: 'call_abc', content: 'Paris' });
  });

  it('mixed rounds run the server tools and hand back only the client ones', async () => {
    const { app } = await execTestApp(upstream, { adapters: searchTool(async () => ({ result: 'found' })) });
    upstream.script([
      {
        calls: [
          { name: 'web_search', arguments: { query: 'a' }, id: 'srv' },
          { name: 'ask_user', arguments: { q: 'b' }, id: 'cli' },
        ],
      },
    ]);
    const body = await (
      await app.request(
        '/llm-exec/round',
        json({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'mix' }],
          tools: [{ type: 'websearch' }, ASK],
        }),
      )
    ).json();
    expect(body.finish_reason).toBe('tool_calls');
    expect(body.message.tool_calls.map((c: { id: string }) => c.id)).toEqual(['cli']);
    expect(body.messages.find((m: { role: string }) => m.role === 'tool_response')).toMatchObject({
      tool_call_id: 'srv',
      content: 'found',
    });

    // The client sends back the whole history with its answer: the server call is not run again.
    upstream.script([{ text: 'done' }]);
    const next = await (
      await app.request(
        '/llm-exec/round',
        json({
          model: 'gpt-4o-mini',
          messages: [
            { role: 'user', content: 'mix' },
            ...body.messages,
            { role: 'tool_response', tool_call_id: 'cli', content: 'B' },
          ],
          tools: [{ type: 'websearch' }, ASK],
        }),
      )
    ).json();
    expect(next.message.content).toBe('done');
    expect(upstream.requests.at(-1)!.messages.filter((m) => m.role === 'tool')).toHaveLength(2);
  });

  it('refuses a continuation that leaves a client call unanswered', async () => {
    const { app } = await execTestApp(upstream);
    const res = await app.request(
      '/llm-exec/round',
      json({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', tool_calls: [{ id: 'c1', name: 'ask_user', arguments: { q: 'x' } }] },
        ],
        tools: [ASK],
      }),
    );
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatch(/messages\.1\.tool_calls: call c1 .*no tool_response/);
  });
});

describe('streaming', () => {
  it("streams start, chunks in order, tool events with ids, and end; the document's client parses every event", async () => {
    const { app } = await execTestApp(upstream, { adapters: searchTool(async () => ({ result: { n: 1 } })) });
    upstream.script([
      { text: 'Looking it up. ', calls: [{ name: 'web_search', arguments: { query: 'q' } }] },
      { text: 'Here is the answer.' },
    ]);
    const res = await app.request(
      '/llm-exec/round/stream',
      json({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'q' }], tools: [{ type: 'websearch' }] }),
    );
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = documentEvents(await res.text());
    expect(events.map((e) => e.type)).toEqual([
      'start',
      'chunk',
      'chunk',
      'chunk',
      'tool_call',
      'tool_result',
      'chunk',
      'chunk',
      'chunk',
      'chunk',
      'end',
    ]);
    expect(events[0]).toMatchObject({ type: 'start', message: { role: 'assistant' } });
    const text = events
      .filter((e) => e.type === 'chunk')
      .map((e) => e.content)
      .join('');
    expect(text).toBe('Looking it up. Here is the answer.');
    const call = events.find((e) => e.type === 'tool_call')!;
    expect(call).toMatchObject({ tool_name: 'web_search', args: { query: 'q' } });
    expect(events.find((e) => e.type === 'tool_result')).toMatchObject({
      id: call.id,
      tool_name: 'web_search',
      result: { n: 1 },
    });
    expect(events.at(-1)).toMatchObject({ type: 'end', usage: { total_tokens: 30 }, finish_reason: 'stop' });
  });

  it('feeds the provider-integration example (SynesiaChatProvider) content, tool_start, tool_result and done', async () => {
    const { app } = await execTestApp(upstream, { adapters: searchTool(async () => ({ result: 'r' })) });
    upstream.script([{ calls: [{ name: 'web_search', arguments: { query: 'q' } }] }, { text: 'Final.' }]);
    class SynesiaChatProvider {
      selectedModel = 'gpt-4o-mini';
      llmConfig = { temperature: 0.5 };
      async *streamChat(messages: unknown[], tools: unknown[] = []) {
        const response = await app.request('/llm-exec/round/stream', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: this.selectedModel, messages, tools, llmConfig: this.llmConfig }),
        });
        const reader = response.body!.getReader();
        while (true) {
          const { done, value } = await reader.read();
          if (done) break;
          const events = new TextDecoder()
            .decode(value)
            .split('\n\n')
            .filter((line) => line.startsWith('data: '));
          for (const event of events) yield this.mapSynesiaEvent(JSON.parse(event.replace('data: ', '')));
        }
      }
      mapSynesiaEvent(event: Record<string, unknown>) {
        switch (event.type) {
          case 'chunk':
            return { type: 'content', content: event.content };
          case 'tool_call':
            return { type: 'tool_start', tool: event.tool_name };
          case 'tool_result':
            return { type: 'tool_result', result: event.result };
          case 'end':
            return { type: 'done', usage: event.usage };
          default:
            return event;
        }
      }
    }
    const seen: Record<string, unknown>[] = [];
    for await (const e of new SynesiaChatProvider().streamChat(
      [{ role: 'user', content: 'go' }],
      [{ type: 'websearch' }],
    ))
      seen.push(e);
    expect(seen.map((e) => e.type)).toEqual(['start', 'tool_start', 'tool_result', 'content', 'done']);
    expect(seen[1]).toEqual({ type: 'tool_start', tool: 'web_search' });
    expect(seen[3]).toEqual({ type: 'content', content: 'Final.' });
  });

  it('a client that disconnects cancels the model call and the running tools', async () => {
    let toolAborted!: () => void;
    const toolCancelled = new Promise<void>((resolve) => (toolAborted = resolve));
    let toolStarted!: () => void;
    const started = new Promise<void>((resolve) => (toolStarted = resolve));
    const { app } = await execTestApp(upstream, {
      adapters: searchTool(
        (_a, { signal }) =>
          new Promise((_, reject) => {
            toolStarted();
            signal.addEventListener('abort', () => (toolAborted(), reject(signal.reason)));
          }),
      ),
    });
    upstream.script([{ calls: [{ name: 'web_search', arguments: { query: 'q' } }] }]);
    const client = new AbortController();
    const res = await app.request('/llm-exec/round/stream', {
      ...json({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'q' }], tools: [{ type: 'websearch' }] }),
      signal: client.signal,
    });
    const reader = res.body!.getReader();
    const drained = (async () => {
      while (!(await reader.read().catch(() => ({ done: true }))).done);
    })();
    await started;
    client.abort();
    await toolCancelled;
    await drained;

    const before = upstream.aborted();
    upstream.script([{ hang: true }]);
    const second = new AbortController();
    const talking = await app.request('/llm-exec/round/stream', {
      ...json({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'talk' }] }),
      signal: second.signal,
    });
    const r2 = talking.body!.getReader();
    await r2.read();
    await r2.read();
    second.abort();
    await r2.cancel();
    await expect.poll(() => upstream.aborted()).toBeGreaterThan(before);
  });
});
