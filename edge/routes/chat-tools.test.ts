import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSSE } from '../../shared/sse.ts';
import { testApp } from '../../test/helpers/test-app.ts';
import { SCRIPTED_ANSWER, TOOL_ANSWER } from '../../test/helpers/tiny-models.ts';

async function events(res: Response): Promise<string[]> {
  const out: string[] = [];
  for await (const data of parseSSE(res.body!)) out.push(data);
  return out;
}

const TOOLS = [
  {
    type: 'function',
    function: { name: 'get_time', description: 'The current time', parameters: { type: 'object', properties: {} } },
  },
];
const ASK = { role: 'user', content: 'What time is it?' };
/** The conversation once `call` was made and answered with "12:00". */
const afterResult = (call: { id: string }) => [
  ASK,
  { role: 'assistant', content: null, tool_calls: [call] },
  { role: 'tool', tool_call_id: call.id, content: '12:00' },
];

/** OpenAI tool calling end to end on the scripted tool model (tiny-tools: calls when offered tools, answers after the result). */
describe('tool calls through /v1/chat/completions (tiny scripted tool model)', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  beforeAll(async () => {
    t = await testApp();
  });
  afterAll(() => t.cleanup());
  const complete = (body: Record<string, unknown>) =>
    t.app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny-tools', temperature: 0, ...body }),
    });

  it('calls the offered tool: finish_reason tool_calls, an id, the name and JSON arguments', async () => {
    const res = await complete({ messages: [ASK], tools: TOOLS });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.object).toBe('chat.completion');
    const [choice] = body.choices;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.role).toBe('assistant');
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toHaveLength(1);
    const call = choice.message.tool_calls[0];
    expect(call).toMatchObject({ type: 'function', function: { name: 'get_time' } });
    expect(call.id).toMatch(/^call_\w+$/);
    expect(typeof call.function.arguments).toBe('string');
    expect(JSON.parse(call.function.arguments)).toEqual({});
  });

  it('streams the call in a chunk with index 0, then finish_reason tool_calls, then [DONE]', async () => {
    const res = await complete({ messages: [ASK], tools: TOOLS, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const data = await events(res);
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    for (const c of chunks) expect(c.object).toBe('chat.completion.chunk');
    const deltas = chunks.map((c) => c.choices[0].delta);
    expect(deltas[0]).toEqual({ role: 'assistant', content: '' });
    expect(deltas.filter((d) => d.content).map((d) => d.content)).toEqual([]); // no call syntax leaks as text
    const withCalls = deltas.filter((d) => d.tool_calls);
    expect(withCalls).toHaveLength(1);
    expect(withCalls[0].tool_calls).toHaveLength(1);
    const call = withCalls[0].tool_calls[0];
    expect(call).toMatchObject({ index: 0, type: 'function', function: { name: 'get_time' } });
    expect(call.id).toMatch(/^call_\w+$/);
    expect(JSON.parse(call.function.arguments)).toEqual({});
    const last = chunks.at(-1).choices[0];
    expect(last).toMatchObject({ delta: {}, finish_reason: 'tool_calls' });
    expect(chunks.slice(0, -1).every((c) => c.choices[0].finish_reason === null)).toBe(true);
  });

  it('answers in text once the tool result follows the call', async () => {
    const first = await (await complete({ messages: [ASK], tools: TOOLS })).json();
    const call = first.choices[0].message.tool_calls[0];
    const messages = afterResult(call);
    for (const tools of [TOOLS, undefined]) {
      const res = await complete({ messages, tools });
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body.choices[0]).toMatchObject({
        message: { role: 'assistant', content: TOOL_ANSWER },
        finish_reason: 'stop',
      });
      expect(body.choices[0].message.tool_calls).toBeUndefined();
      expect(body.usage.completion_tokens).toBeGreaterThan(0);
    }

    const streamed = await events(await complete({ messages, tools: TOOLS, stream: true }));
    expect(streamed.at(-1)).toBe('[DONE]');
    const chunks = streamed.slice(0, -1).map((d) => JSON.parse(d).choices[0]);
    expect(chunks.map((c) => c.delta.content ?? '').join('')).toBe(TOOL_ANSWER);
    expect(chunks.some((c) => c.delta.tool_calls)).toBe(false);
    expect(chunks.at(-1).finish_reason).toBe('stop');
  });

  it("tool_choice 'required' or a named tool makes the answer a call where the model would answer in text", async () => {
    const first = await (await complete({ messages: [ASK], tools: TOOLS })).json();
    const call = first.choices[0].message.tool_calls[0];
    const messages = afterResult(call);
    // With the result in its context the model answers in text (the test above); forced, it calls again.
    const named = { type: 'function', function: { name: 'get_time' } };
    for (const tool_choice of ['required', named]) {
      const body = await (await complete({ messages, tools: TOOLS, tool_choice, parallel_tool_calls: false })).json();
      expect(body.choices[0].finish_reason).toBe('tool_calls');
      expect(body.choices[0].message.content).toBeNull();
      expect(body.choices[0].message.tool_calls).toHaveLength(1);
      expect(body.choices[0].message.tool_calls[0].function).toEqual({ name: 'get_time', arguments: '{}' });
    }
    const streamed = await events(await complete({ messages, tools: TOOLS, tool_choice: 'required', stream: true }));
    const chunks = streamed.slice(0, -1).map((d) => JSON.parse(d).choices[0]);
    expect(chunks.some((c) => c.delta.tool_calls?.[0]?.function?.name === 'get_time')).toBe(true);
    expect(chunks.at(-1).finish_reason).toBe('tool_calls');
  });

  it('tools and response_format together: the model still calls; its text answer follows the format', async () => {
    const format = {
      type: 'json_schema',
      json_schema: {
        name: 'answer',
        schema: {
          type: 'object',
          properties: { ok: { type: 'boolean' } },
          required: ['ok'],
          additionalProperties: false,
        },
      },
    };
    const first = await (await complete({ messages: [ASK], tools: TOOLS, response_format: format })).json();
    expect(first.choices[0].finish_reason).toBe('tool_calls');
    const call = first.choices[0].message.tool_calls[0];
    const messages = afterResult(call);
    for (const stream of [false, true]) {
      const res = await complete({ messages, tools: TOOLS, response_format: format, max_tokens: 40, stream });
      expect(res.status).toBe(200);
      const content = stream
        ? (await events(res))
            .slice(0, -1)
            .map((d) => JSON.parse(d).choices[0]?.delta?.content ?? '')
            .join('')
        : (await res.json()).choices[0].message.content;
      // Unformatted, the model answers TOOL_ANSWER here (the test above).
      expect(content).not.toContain(TOOL_ANSWER);
      expect(JSON.parse(content)).toEqual({ ok: expect.any(Boolean) });
    }
  });

  it("answers without calling when tool_choice is 'none' or no tools are offered", async () => {
    for (const extra of [{ tools: TOOLS, tool_choice: 'none' }, {}]) {
      const body = await (await complete({ messages: [ASK], ...extra })).json();
      expect(body.choices[0]).toMatchObject({
        message: { role: 'assistant', content: SCRIPTED_ANSWER },
        finish_reason: 'stop',
      });
      expect(body.choices[0].message.tool_calls).toBeUndefined();
    }
  });

  it('tool_choice naming a function offers only that one; an unknown name is a 400 on tool_choice', async () => {
    const two = [
      { type: 'function', function: { name: 'get_date', parameters: { type: 'object', properties: {} } } },
      ...TOOLS,
    ];
    const named = await complete({
      messages: [ASK],
      tools: two,
      tool_choice: { type: 'function', function: { name: 'get_time' } },
    });
    expect((await named.json()).choices[0].message.tool_calls[0].function.name).toBe('get_time');
    const unknown = await complete({
      messages: [ASK],
      tools: TOOLS,
      tool_choice: { type: 'function', function: { name: 'nope' } },
    });
    expect(unknown.status).toBe(400);
    expect((await unknown.json()).error.param).toBe('tool_choice');
  });

  it('rejects a tool result that answers no earlier call (400, names the field)', async () => {
    const res = await complete({
      messages: [ASK, { role: 'tool', tool_call_id: 'call_unknown', content: '12:00' }],
      tools: TOOLS,
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error.param).toBe('messages.1.tool_call_id');
    const badArguments = await complete({
      messages: [
        ASK,
        {
          role: 'assistant',
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_time', arguments: '{' } }],
        },
      ],
    });
    expect(badArguments.status).toBe(400);
    expect((await badArguments.json()).error.param).toBe('messages.1.tool_calls');
  });

  it('a rejected tool message does not keep a sequence busy', async () => {
    const bad = { messages: [ASK, { role: 'tool', tool_call_id: 'call_unknown', content: '12:00' }] };
    for (let i = 0; i < 3; i++) expect((await complete(bad)).status).toBe(400); // the engine lends 2 sequences
    const body = await (await complete({ messages: [ASK], max_tokens: 8 })).json();
    expect(body.choices[0].message.content).toBe(SCRIPTED_ANSWER);
  });
});
