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

describe('POST /llm-exec/round', () => {
  it("answers the Quick Start call in the document's shape", async () => {
    const { app } = await execTestApp(upstream);
    upstream.script([
      { text: 'Bonjour ! Je suis un assistant IA.', usage: { prompt_tokens: 15, completion_tokens: 23 } },
    ]);
    const res = await app.request(
      '/llm-exec/round',
      json({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Bonjour, qui es-tu ?' }] }),
    );
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({
      message: { role: 'assistant', content: 'Bonjour ! Je suis un assistant IA.' },
      usage: { prompt_tokens: 15, completion_tokens: 23, total_tokens: 38 },
      finish_reason: 'stop',
    });
  });

  it('passes llmConfig, instructions and verbosity to the model', async () => {
    const { app } = await execTestApp(upstream);
    upstream.script([{ text: 'ok' }]);
    await app.request(
      '/llm-exec/round',
      json({
        model: 'gpt-4o-mini',
        instructions: 'Réponds en français.',
        messages: [
          { role: 'system', content: 'Tu es un assistant.' },
          { role: 'user', content: 'Salut' },
        ],
        llmConfig: {
          temperature: 0.3,
          top_p: 0.9,
          max_completion_tokens: 50,
          presence_penalty: 0.1,
          frequency_penalty: 0.2,
          seed: 42,
          verbosity: 'low',
        },
      }),
    );
    const sent = upstream.requests[0]!;
    expect(sent).toMatchObject({
      temperature: 0.3,
      top_p: 0.9,
      presence_penalty: 0.1,
      frequency_penalty: 0.2,
      seed: 42,
    });
    expect(JSON.stringify(sent)).toContain('50');
    const system = sent.messages[0]!;
    expect(system.role).toBe('system');
    expect(system.content).toContain('Tu es un assistant.');
    expect(system.content).toContain('Réponds en français.');
    expect(system.content).toContain('briefly');
  });

  it('runs server-side tools in a loop, sums usage over every model call, and returns what it added', async () => {
    const { app } = await execTestApp(upstream, {
      adapters: searchTool(async (args) => ({ result: { hits: [`about ${args.query}`] } })),
    });
    upstream.script([
      {
        calls: [{ name: 'web_search', arguments: { query: 'hono' } }],
        usage: { prompt_tokens: 10, completion_tokens: 3 },
      },
      { text: 'Hono is a web framework.', usage: { prompt_tokens: 30, completion_tokens: 6 } },
    ]);
    const res = await app.request(
      '/llm-exec/round',
      json({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'What is hono?' }],
        tools: [{ type: 'websearch' }],
      }),
    );
    const body = await res.json();
    expect(body.finish_reason).toBe('stop');
    expect(body.message.content).toBe('Hono is a web framework.');
    expect(body.usage).toEqual({ prompt_tokens: 40, completion_tokens: 9, total_tokens: 49 });
    expect(body.messages.map((m: { role: string }) => m.role)).toEqual(['assistant', 'tool_response', 'assistant']);
    const second = upstream.requests[1]!;
    expect(second.messages.at(-1)).toMatchObject({ role: 'tool', content: JSON.stringify({ hits: ['about hono'] }) });
    expect(second.tools?.[0]?.function.name).toBe('web_search');
  });

  it('ends with finish_reason max_loops when the model never stops calling tools', async () => {
    const { app } = await execTestApp(upstream, { adapters: searchTool(async () => ({ result: 'nothing' })) });
    upstream.script(() => ({ calls: [{ name: 'web_search', arguments: { query: 'again' } }] }));
    const res = await app.request(
      '/llm-exec/round',
      json({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'loop' }],
        tools: [{ type: 'websearch' }],
        config: { max_loops: 3 },
      }),
    );
    const body = await res.json();
    expect(body.finish_reason).toBe('max_loops');
    expect(upstream.requests).toHaveLength(3);
    expect(body.usage.total_tokens).toBe(45);
  });

  it('ends cleanly with finish_reason timeout when timeout_ms passes, cancelling the running tool', async () => {
    let toolAborted = false;
    const { app } = await execTestApp(upstream, {
      adapters: searchTool(
        (_args, { signal }) =>
          new Promise((_, reject) =>
            signal.addEventListener('abort', () => {
              toolAborted = true;
              reject(signal.reason);
            }),
          ),
      ),
    });
    upstream.script([{ text: 'Let me look. ', calls: [{ name: 'web_search', arguments: { query: 'slow' } }] }]);
    const res = await app.request(
      '/llm-exec/round',
      json({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'slow' }],
        tools: [{ type: 'websearch' }],
        config: { timeout_ms: 300 },
      }),
    );
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.finish_reason).toBe('timeout');
    expect(toolAborted).toBe(true);
  });

  it('times out cleanly before the first event too (a slow tool listing)', async () => {
    const slow = {
      websearch: async (_d: unknown, { signal }: { signal: AbortSignal }) =>
        new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    };
    const { app } = await execTestApp(upstream, { adapters: slow as never });
    const res = await app.request(
      '/llm-exec/round/stream',
      json({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ type: 'websearch' }],
        config: { timeout_ms: 100 },
      }),
    );
    expect(res.status).toBe(200);
    expect(documentEvents(await res.text()).map((e) => [e.type, e.finish_reason])).toEqual([
      ['start', undefined],
      ['end', 'timeout'],
    ]);
  });

  it('times out inside a model call too, keeping the text so far', async () => {
    const { app } = await execTestApp(upstream);
    upstream.script([{ hang: true }]);
    const res = await app.request(
      '/llm-exec/round',
      json({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'talk' }], config: { timeout_ms: 200 } }),
    );
    const body = await res.json();
    expect(body.finish_reason).toBe('timeout');
    expect(body.message.content).toMatch(/^(la )+$/);
  });

  it('runs independent calls in parallel and feeds results back in the model order', async () => {
    const started: string[] = [];
    let release!: () => void;
    const bothStarted = new Promise<void>((resolve) => (release = resolve));
    const { app } = await execTestApp(upstream, {
      adapters: searchTool(async (args) => {
        started.push(String(args.query));
        if (started.length === 2) release();
        await bothStarted; // a sequential runner would wait here forever (the round's timeout would fire)
        if (args.query === 'first') await new Promise((r) => setTimeout(r, 30));
        return { result: `result ${args.query}` };
      }),
    });
    upstream.script([
      {
        calls: [
          { name: 'web_search', arguments: { query: 'first' } },
          { name: 'web_search', arguments: { query: 'second' } },
        ],
      },
      { text: 'both done' },
    ]);
    const res = await app.request(
      '/llm-exec/round/stream',
      json({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'two' }],
        tools: [{ type: 'websearch' }],
        config: { timeout_ms: 10_000 },
      }),
    );
    const events = documentEvents(await res.text());
    const results = events.filter((e) => e.type === 'tool_result');
    expect(results.map((e) => e.result)).toEqual(['result second', 'result first']);
    const calls = events.filter((e) => e.type === 'tool_call');
    expect(new Set(calls.map((e) => e.id))).toEqual(new Set(results.map((e) => e.id)));
    const toolMessages = upstream.requests[1]!.messages.filter((m) => m.role === 'tool');
    expect(toolMessages.map((m) => m.content)).toEqual(['result first', 'result second']);
    expect(events.at(-1)).toMatchObject({ type: 'end', finish_reason: 'stop' });
  });

  it('turns a failing tool into a result the model reads and a TOOL_ERROR event, never a failed round', async () => {
    const { app } = await execTestApp(upstream, {
      adapters: searchTool(async () => {
        throw new Error('search engine down');
      }),
    });
    upstream.script([
      { calls: [{ name: 'web_search', arguments: { query: 'x' } }] },
      { text: 'Sorry, search failed.' },
    ]);
    const res = await app.request(
      '/llm-exec/round/stream',
      json({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'websearch' }] }),
    );
    const events = documentEvents(await res.text());
    const result = events.find((e) => e.type === 'tool_result')!;
    expect(result).toMatchObject({ is_error: true, result: 'Error: search engine down' });
    expect(events.find((e) => e.type === 'error')).toMatchObject({
      error: { code: 'TOOL_ERROR' },
      tool_call_id: result.id,
    });
    expect(upstream.requests[1]!.messages.at(-1)).toMatchObject({ role: 'tool', content: 'Error: search engine down' });
    expect(events.at(-1)).toMatchObject({ type: 'end', finish_reason: 'stop' });
  });

  it('feeds an invalid call back to the model once, then gives up', async () => {
    const { app } = await execTestApp(upstream);
    upstream.script([
      { calls: [{ name: 'ask_user', arguments: { wrong: 1 } }] },
      { calls: [{ name: 'ask_user', arguments: { q: 'Which city?' } }] },
    ]);
    const fixed = await app.request(
      '/llm-exec/round',
      json({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'weather' }], tools: [ASK] }),
    );
    const body = await fixed.json();
    expect(body.finish_reason).toBe('tool_calls');
    expect(body.errors[0]).toMatchObject({ code: 'INVALID_TOOL_ARGUMENTS' });
    expect(upstream.requests[1]!.messages.at(-1)!.content).toMatch(/Invalid call of ask_user.*q/);

    upstream.script(() => ({ calls: [{ name: 'ask_user', arguments: '{not json' }] }));
    const stream = await app.request(
      '/llm-exec/round/stream',
      json({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'weather' }], tools: [ASK] }),
    );
    const events = documentEvents(await stream.text());
    // Fed back after the first turn, given up after the second: an error event, then a clean end.
    expect(upstream.requests.filter((r) => r.messages.at(-1)!.role === 'tool')).toHaveLength(2);
    expect(events.at(-2)).toMatchObject({
      type: 'error',
      error: { code: 'INVALID_TOOL_ARGUMENTS', message: expect.stringMatching(/twice/) },
    });
    expect(events.at(-1)).toMatchObject({ type: 'end', finish_reason: 'invalid_tool_call' });
  });
});

describe('request errors', () => {
  it('names the tool index and field of a malformed tool', async () => {
    const { app } = await execTestApp(upstream);
    const bad = async (tools: unknown[]) => {
      const res = await app.request(
        '/llm-exec/round',
        json({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], tools }),
      );
      expect(res.status).toBe(400);
      const body = await res.json();
      expect(body.statusCode).toBe(400);
      return body.error as string;
    };
    expect(await bad([ASK, { type: 'custom', name: 'has space' }])).toMatch(/^tools\.1\.name: /);
    expect(await bad([{ type: 'mcp', server_url: 'ftp://x' }])).toMatch(/^tools\.0\.server_url: /);
    expect(await bad([{ type: 'kit', name: 'k', tools: [{ type: 'custom' }] }])).toMatch(/^tools\.0\.tools\.0\.name: /);
    expect(await bad([{ type: 'nope' }])).toMatch(/^tools\.0\.type: .*unknown tool type/);
    expect(await bad([{ type: 'knowledge', knowledge_id: 'kb' }])).toMatch(
      /^tools\.0: knowledge bases are not available/,
    );
  });

  it('answers "This model does not support tools" and "API key not found for provider …" as 400s', async () => {
    const { app } = await execTestApp(upstream);
    upstream.script([{ status: 400, error: 'model gpt-4o-mini does not support tools' }]);
    const res = await app.request(
      '/llm-exec/round',
      json({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], tools: [ASK] }),
    );
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'This model does not support tools', statusCode: 400 });

    const noKey = await app.request(
      '/llm-exec/round/stream',
      json({ model: 'claude-3-haiku', messages: [{ role: 'user', content: 'x' }] }),
    );
    expect(noKey.status).toBe(400);
    expect(await noKey.json()).toEqual({ error: 'API key not found for provider Anthropic', statusCode: 400 });
  });

  it('refuses empty messages and unknown fields with the field named', async () => {
    const { app } = await execTestApp(upstream);
    const empty = await app.request('/llm-exec/round', json({ model: 'gpt-4o-mini', messages: [] }));
    expect(await empty.json()).toEqual({ error: 'messages: must not be empty', statusCode: 400 });
    const loops = await app.request(
      '/llm-exec/round',
      json({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], config: { max_loops: 0 } }),
    );
    expect((await loops.json()).error).toMatch(/^config\.max_loops: /);
    const role = await app.request(
      '/llm-exec/round',
      json({ model: 'gpt-4o-mini', messages: [{ role: 'robot', content: 'x' }] }),
    );
    expect((await role.json()).error).toMatch(/^messages\.0\.role: /);
  });
});
