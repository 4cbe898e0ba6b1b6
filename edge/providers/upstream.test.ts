import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import type { ChatEvent, ChatRequest } from '../../shared/schemas/chat.ts';
import { AnthropicProvider } from './anthropic.ts';
import { OpenAICompatibleProvider } from './openai-compatible.ts';
import { chunk, HELLO_STREAM } from '../../test/helpers/openai-chunks.ts';

interface Seen {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  /** The client closed the connection before the answer ended. */
  closedEarly: boolean;
}
type Reply = (res: ServerResponse) => void;

/** A fake upstream on 127.0.0.1 answering each request with the next scripted reply, recording requests. */
async function startUpstream() {
  const requests: Seen[] = [];
  const replies: Reply[] = [];
  const server = createServer(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const seen: Seen = { path: req.url!, headers: req.headers, body: raw ? JSON.parse(raw) : {}, closedEarly: false };
    res.on('close', () => (seen.closedEarly = !res.writableFinished));
    requests.push(seen);
    (replies.shift() ?? json(500, { error: { message: 'nothing scripted' } }))(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    script: (...next: Reply[]) => void replies.splice(0, replies.length, ...next),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Reply =>
  (res) =>
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

/** Writes SSE events (Anthropic-style `event:` lines when the payload has a `type`); `then` decides how it ends. */
const sse =
  (events: unknown[], then: 'end' | 'hang' | 'destroy' = 'end'): Reply =>
  (res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const e of events) {
      const type = typeof e === 'object' && e && 'type' in e ? `event: ${String(e.type)}\n` : '';
      res.write(`${type}data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`);
    }
    if (then === 'end') res.end();
    if (then === 'destroy') setTimeout(() => res.destroy(), 20);
  };

const hello = HELLO_STREAM;

async function collect(events: AsyncIterable<ChatEvent>): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

const ask = (model: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  model,
  messages: [
    { role: 'system', content: 'Be nice.' },
    { role: 'user', content: 'Hi' },
  ],
  ...extra,
});

describe('providers against a real fake upstream (127.0.0.1)', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let openai: OpenAICompatibleProvider;
  let anthropic: AnthropicProvider;
  beforeAll(async () => {
    upstream = await startUpstream();
  });
  afterAll(() => upstream.close());
  beforeEach(() => {
    upstream.requests.length = 0;
    openai = new OpenAICompatibleProvider({
      name: 'OpenAI',
      baseUrl: `${upstream.url}/v1/`,
      apiKey: 'sk-test',
      retry: { baseDelayMs: 10 },
    });
    anthropic = new AnthropicProvider({ apiKey: 'sk-ant-test', baseUrl: upstream.url, retry: { baseDelayMs: 10 } });
  });

  it('OpenAI-compatible: posts the streaming body with the bearer key and streams the answer', async () => {
    upstream.script(sse(hello));
    const events = await collect(await openai.chat(ask('llama3-8b-8192', { maxTokens: 32, temperature: 0 })));
    expect(events).toEqual([
      { type: 'text', text: 'Hello' },
      { type: 'text', text: ' there' },
      { type: 'done', finishReason: 'stop', usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } },
    ]);
    const [seen] = upstream.requests;
    expect(seen!.path).toBe('/v1/chat/completions');
    expect(seen!.headers.authorization).toBe('Bearer sk-test');
    expect(seen!.headers['content-type']).toBe('application/json');
    expect(seen!.body).toEqual({
      model: 'llama3-8b-8192',
      messages: [
        { role: 'system', content: 'Be nice.' },
        { role: 'user', content: 'Hi' },
      ],
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0,
      max_tokens: 32,
    });
  });

  it('OpenAI-compatible: tool calls split across SSE events come out whole', async () => {
    upstream.script(
      sse([
        chunk({
          tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'weather', arguments: '' } }],
        }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
        chunk({}, 'tool_calls'),
        { choices: [], usage: { prompt_tokens: 20, completion_tokens: 8, total_tokens: 28 } },
        '[DONE]',
      ]),
    );
    const events = await collect(await openai.chat(ask('gpt-4o-mini')));
    expect(events).toEqual([
      {
        type: 'tool_call',
        call: { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
      },
      {
        type: 'done',
        finishReason: 'tool_calls',
        usage: { prompt_tokens: 20, completion_tokens: 8, total_tokens: 28 },
      },
    ]);
  });

  it('retries a 429 then succeeds, counting the tries', async () => {
    upstream.script(
      json(429, { error: { message: 'Rate limit reached', code: 'rate_limit_exceeded' } }, { 'retry-after': '0' }),
      sse(hello),
    );
    const events = await collect(await openai.chat(ask('gpt-4o-mini')));
    expect(events.at(-1)).toMatchObject({ type: 'done', finishReason: 'stop' });
    expect(upstream.requests).toHaveLength(2);
  });

  it('gives up after 3 tries of 5xx with the upstream status and message', async () => {
    const busy = json(
      503,
      { error: { message: 'The server is overloaded', type: 'server_error' } },
      { 'retry-after': '0' },
    );
    upstream.script(busy, busy, busy, sse(hello));
    const err = await openai.chat(ask('gpt-4o-mini')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({
      status: 503,
      message: 'OpenAI (upstream) says: The server is overloaded',
      headers: { 'Retry-After': '0' },
    });
    expect(upstream.requests).toHaveLength(3);
  });

  it('does not retry once bytes have come: a stream cut mid-way fails with 502', async () => {
    upstream.script(sse([chunk({ content: 'Hel' })], 'destroy'), sse(hello));
    const events = await openai.chat(ask('gpt-4o-mini'));
    const seen: ChatEvent[] = [];
    const err = await (async () => {
      for await (const e of events) seen.push(e);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([{ type: 'text', text: 'Hel' }]);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ status: 502, code: 'upstream_stream_failed' });
    expect(upstream.requests).toHaveLength(1);
  });

  it('an upstream 401 becomes an AppError with its status, message and code, without retrying', async () => {
    upstream.script(
      json(401, {
        error: {
          message: 'Incorrect API key provided: sk-test.',
          type: 'invalid_request_error',
          code: 'invalid_api_key',
        },
      }),
    );
    const err = await openai.chat(ask('gpt-4o-mini')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({
      status: 401,
      message: 'OpenAI (upstream) says: Incorrect API key provided: sk-test.',
      code: 'invalid_api_key',
    });
    expect(upstream.requests).toHaveLength(1);
    upstream.script((res) => res.writeHead(404).end('model "nope" not found'));
    await expect(openai.chat(ask('nope'))).rejects.toMatchObject({
      status: 404,
      message: 'OpenAI (upstream) says: model "nope" not found',
    });
  });

  it('retries connection errors, then answers 502 naming the provider', async () => {
    const closed = await startUpstream();
    await closed.close();
    const down = new OpenAICompatibleProvider({ name: 'Together', baseUrl: closed.url, retry: { baseDelayMs: 5 } });
    await expect(down.chat(ask('m'))).rejects.toMatchObject({
      status: 502,
      code: 'upstream_unreachable',
      message: expect.stringMatching(/^Together could not be reached: /),
    });
  });

  it('aborting mid-stream closes the upstream request and ends the stream with "stop"', async () => {
    upstream.script(sse([chunk({ content: 'Once upon' })], 'hang'));
    const controller = new AbortController();
    const events = await openai.chat(ask('gpt-4o-mini'), { signal: controller.signal });
    const seen: ChatEvent[] = [];
    for await (const e of events) {
      seen.push(e);
      if (e.type === 'text') controller.abort();
    }
    expect(seen).toEqual([
      { type: 'text', text: 'Once upon' },
      { type: 'done', finishReason: 'stop', usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 } },
    ]);
    await expect.poll(() => upstream.requests[0]!.closedEarly).toBe(true);
  });

  it('a consumer that stops reading early closes the upstream request', async () => {
    upstream.script(sse([chunk({ content: 'Once upon' })], 'hang'));
    for await (const e of await openai.chat(ask('gpt-4o-mini'))) if (e.type === 'text') break;
    await expect.poll(() => upstream.requests[0]!.closedEarly).toBe(true);
  });

  it('aborting during the backoff stops the retries', async () => {
    const slow = new OpenAICompatibleProvider({ name: 'OpenAI', baseUrl: upstream.url, retry: { baseDelayMs: 5_000 } });
    upstream.script(json(500, { error: { message: 'boom' } }), sse(hello));
    const controller = new AbortController();
    const pending = slow.chat(ask('gpt-4o-mini'), { signal: controller.signal });
    await expect.poll(() => upstream.requests.length).toBe(1);
    controller.abort(new Error('client went away'));
    await expect(pending).rejects.toThrow('client went away');
    await new Promise((r) => setTimeout(r, 50));
    expect(upstream.requests).toHaveLength(1);
  });

  it('Anthropic: posts a Messages body with its headers and translates the stream', async () => {
    upstream.script(
      sse([
        {
          type: 'message_start',
          message: { id: 'msg_1', type: 'message', role: 'assistant', usage: { input_tokens: 25, output_tokens: 1 } },
        },
        { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Sure.' } },
        { type: 'content_block_stop', index: 0 },
        {
          type: 'content_block_start',
          index: 1,
          content_block: { type: 'tool_use', id: 'toolu_1', name: 'weather', input: {} },
        },
        { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"city":' } },
        { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: ' "Paris"}' } },
        { type: 'content_block_stop', index: 1 },
        { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 30 } },
        { type: 'message_stop' },
      ]),
    );
    const tools = [{ type: 'function' as const, function: { name: 'weather', parameters: { type: 'object' } } }];
    const events = await collect(await anthropic.chat(ask('claude-3-haiku-20240307', { tools, toolChoice: 'auto' })));
    expect(events).toEqual([
      { type: 'text', text: 'Sure.' },
      {
        type: 'tool_call',
        call: { id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{"city": "Paris"}' } },
      },
      {
        type: 'done',
        finishReason: 'tool_calls',
        usage: { prompt_tokens: 25, completion_tokens: 30, total_tokens: 55 },
      },
    ]);
    const [seen] = upstream.requests;
    expect(seen!.path).toBe('/v1/messages');
    expect(seen!.headers['x-api-key']).toBe('sk-ant-test');
    expect(seen!.headers['anthropic-version']).toBe('2023-06-01');
    expect(seen!.headers.authorization).toBeUndefined();
    expect(seen!.body).toEqual({
      model: 'claude-3-haiku-20240307',
      max_tokens: 1024,
      system: 'Be nice.',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
      tools: [{ name: 'weather', input_schema: { type: 'object' } }],
      tool_choice: { type: 'auto' },
      stream: true,
    });
  });

  it('Anthropic: error answers and error events become AppErrors', async () => {
    upstream.script(
      json(401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } }),
    );
    await expect(anthropic.chat(ask('claude-3-haiku-20240307'))).rejects.toMatchObject({
      status: 401,
      message: 'Anthropic (upstream) says: invalid x-api-key',
      code: 'authentication_error',
    });
    upstream.script(
      sse([
        { type: 'message_start', message: { usage: { input_tokens: 3, output_tokens: 0 } } },
        { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
      ]),
    );
    const events = await anthropic.chat(ask('claude-3-haiku-20240307'));
    await expect(collect(events)).rejects.toMatchObject({
      status: 503,
      message: 'Anthropic (upstream) says: Overloaded',
    });
  });
});
