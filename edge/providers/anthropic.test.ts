import { describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import type { ChatEvent, ChatRequest } from '../../shared/schemas/chat.ts';
import { anthropicEvents, toAnthropicRequest } from './anthropic.ts';

async function* feed(payloads: unknown[]): AsyncGenerator<string> {
  for (const p of payloads) yield JSON.stringify(p);
}

async function collect(events: AsyncIterable<ChatEvent>): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

const tool = {
  type: 'function' as const,
  function: {
    name: 'weather',
    description: 'Weather now',
    parameters: { type: 'object', properties: { city: { type: 'string' } } },
  },
};

describe('toAnthropicRequest', () => {
  it('lifts system messages, merges turns, maps tool calls and results, tools and tool_choice', () => {
    const request: ChatRequest = {
      model: 'claude-3-haiku-20240307',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: 'Use tools.' },
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [
            { id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
            { id: 'toolu_2', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'sunny' },
        { role: 'tool', tool_call_id: 'toolu_2', content: [{ type: 'text', text: 'rainy' }] },
        { role: 'user', content: 'Thanks. And now?' },
        { role: 'ai', content: 'Still the same.' },
        { role: 'user', content: 'ok' },
      ],
      temperature: 0.5,
      topP: 0.9,
      stop: ['END'],
      seed: 3,
      tools: [tool],
      toolChoice: 'required',
    };
    expect(JSON.parse(JSON.stringify(toAnthropicRequest(request)))).toEqual({
      model: 'claude-3-haiku-20240307',
      max_tokens: 1024,
      system: 'Be brief.\n\nUse tools.',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Rome?' }] },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Checking.' },
            { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } },
            { type: 'tool_use', id: 'toolu_2', name: 'weather', input: { city: 'Rome' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' },
            { type: 'tool_result', tool_use_id: 'toolu_2', content: 'rainy' },
            { type: 'text', text: 'Thanks. And now?' },
          ],
        },
        { role: 'assistant', content: [{ type: 'text', text: 'Still the same.' }] },
        { role: 'user', content: [{ type: 'text', text: 'ok' }] },
      ],
      temperature: 0.5,
      top_p: 0.9,
      stop_sequences: ['END'],
      tools: [{ name: 'weather', description: 'Weather now', input_schema: tool.function.parameters }],
      tool_choice: { type: 'any' },
      stream: true,
    });
  });

  it('maps every tool_choice and takes max_tokens from the request or the default', () => {
    const base: ChatRequest = { model: 'm', messages: [{ role: 'user', content: 'hi' }], tools: [tool] };
    const choice = (toolChoice: ChatRequest['toolChoice']) => toAnthropicRequest({ ...base, toolChoice }).tool_choice;
    expect(choice('auto')).toEqual({ type: 'auto' });
    expect(choice('none')).toEqual({ type: 'none' });
    expect(choice({ type: 'function', function: { name: 'weather' } })).toEqual({ type: 'tool', name: 'weather' });
    expect(choice(undefined)).toBeUndefined();
    expect(toAnthropicRequest({ ...base, tools: undefined, toolChoice: 'auto' }).tool_choice).toBeUndefined();
    const single = (toolChoice: ChatRequest['toolChoice']) =>
      toAnthropicRequest({ ...base, toolChoice, parallelToolCalls: false }).tool_choice;
    expect(single(undefined)).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(single('required')).toEqual({ type: 'any', disable_parallel_tool_use: true });
    expect(toAnthropicRequest({ ...base, topK: 5 }).top_k).toBe(5);
    expect(toAnthropicRequest({ ...base, maxTokens: 50 }).max_tokens).toBe(50);
    expect(toAnthropicRequest(base, { defaultMaxTokens: 4096 }).max_tokens).toBe(4096);
  });

  it('rejects what Anthropic cannot take with a 400 naming the field', () => {
    const bad = (request: Partial<ChatRequest>) => {
      try {
        toAnthropicRequest({ model: 'm', messages: [], ...request });
      } catch (err) {
        return err as AppError;
      }
      throw new Error('accepted');
    };
    const args = bad({
      messages: [
        { role: 'assistant', tool_calls: [{ id: 'x', type: 'function', function: { name: 'f', arguments: '[1' } }] },
      ],
    });
    expect(args).toMatchObject({ status: 400, param: 'messages.0.tool_calls.0.function.arguments' });
    expect(bad({ messages: [{ role: 'tool', content: 'r' }] })).toMatchObject({
      status: 400,
      param: 'messages.0.tool_call_id',
    });
    expect(bad({ responseFormat: { type: 'json_object' } })).toMatchObject({ status: 400, param: 'response_format' });
    expect(bad({ minP: 0.05 })).toMatchObject({ status: 400, param: 'min_p' });
    expect(bad({ repeatPenalty: 1.1 })).toMatchObject({ status: 400, param: 'repeat_penalty' });
    expect(bad({ logitBias: { '7': -100 } })).toMatchObject({ status: 400, param: 'logit_bias' });
    expect(bad({ logprobs: 0 })).toMatchObject({ status: 400, param: 'logprobs' });
    expect(() =>
      toAnthropicRequest({ model: 'm', messages: [], minP: 0, repeatPenalty: 1, logitBias: {} }),
    ).not.toThrow();
  });
});

describe('anthropicEvents', () => {
  it('translates a text + tool_use stream into text, whole tool calls, and done with usage', async () => {
    const events = await collect(
      anthropicEvents(
        feed([
          {
            type: 'message_start',
            message: { id: 'msg_1', usage: { input_tokens: 12, cache_read_input_tokens: 3, output_tokens: 1 } },
          },
          { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
          { type: 'ping' },
          { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Let me ' } },
          { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'check.' } },
          { type: 'content_block_stop', index: 0 },
          {
            type: 'content_block_start',
            index: 1,
            content_block: { type: 'tool_use', id: 'toolu_9', name: 'weather', input: {} },
          },
          { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '' } },
          { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"city": "Pa' } },
          { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: 'ris"}' } },
          { type: 'content_block_stop', index: 1 },
          {
            type: 'content_block_start',
            index: 2,
            content_block: { type: 'tool_use', id: 'toolu_10', name: 'now', input: {} },
          },
          { type: 'content_block_stop', index: 2 },
          {
            type: 'message_delta',
            delta: { stop_reason: 'tool_use', stop_sequence: null },
            usage: { output_tokens: 40 },
          },
          { type: 'message_stop' },
        ]),
        { name: 'Anthropic' },
      ),
    );
    expect(events).toEqual([
      { type: 'text', text: 'Let me ' },
      { type: 'text', text: 'check.' },
      {
        type: 'tool_call',
        call: { id: 'toolu_9', type: 'function', function: { name: 'weather', arguments: '{"city": "Paris"}' } },
      },
      { type: 'tool_call', call: { id: 'toolu_10', type: 'function', function: { name: 'now', arguments: '{}' } } },
      {
        type: 'done',
        finishReason: 'tool_calls',
        // Cache reads count in the prompt and are passed on as OpenAI's cached_tokens.
        usage: {
          prompt_tokens: 15,
          completion_tokens: 40,
          total_tokens: 55,
          prompt_tokens_details: { cached_tokens: 3 },
        },
      },
    ]);
  });

  it.each([
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
  ])('maps stop_reason %s to %s', async (reason, finish) => {
    const events = await collect(
      anthropicEvents(
        feed([
          { type: 'message_start', message: { usage: { input_tokens: 1, output_tokens: 0 } } },
          { type: 'message_delta', delta: { stop_reason: reason }, usage: { output_tokens: 2 } },
          { type: 'message_stop' },
        ]),
        { name: 'Anthropic' },
      ),
    );
    expect(events).toEqual([
      { type: 'done', finishReason: finish, usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } },
    ]);
  });

  it('fails on an error event with its status, and on a cut stream with 502 unless aborted', async () => {
    const overloaded = collect(
      anthropicEvents(
        feed([
          { type: 'message_start', message: { usage: { input_tokens: 1 } } },
          { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
        ]),
        { name: 'Anthropic' },
      ),
    );
    await expect(overloaded).rejects.toMatchObject({
      status: 503,
      message: 'Anthropic (upstream) says: Overloaded',
      code: 'overloaded_error',
    });
    const cut = feed([{ type: 'message_start', message: { usage: { input_tokens: 1 } } }]);
    await expect(collect(anthropicEvents(cut, { name: 'Anthropic' }))).rejects.toMatchObject({ status: 502 });
    const controller = new AbortController();
    controller.abort();
    const stopped = feed([{ type: 'message_start', message: { usage: { input_tokens: 4 } } }]);
    expect(await collect(anthropicEvents(stopped, { name: 'Anthropic', signal: controller.signal }))).toEqual([
      { type: 'done', finishReason: 'stop', usage: { prompt_tokens: 4, completion_tokens: 0, total_tokens: 4 } },
    ]);
  });
});
