import { describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import type { ChatEvent } from '../../shared/schemas/chat.ts';
import { openAIEvents, toOpenAIRequest } from './openai-compatible.ts';

async function* feed(payloads: unknown[]): AsyncGenerator<string> {
  for (const p of payloads) yield typeof p === 'string' ? p : JSON.stringify(p);
}

async function collect(events: AsyncIterable<ChatEvent>): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

const delta = (d: Record<string, unknown>, finish_reason: string | null = null) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  choices: [{ index: 0, delta: d, finish_reason }],
});

describe('toOpenAIRequest', () => {
  it('maps our request back to OpenAI names, streaming with usage', () => {
    const body = toOpenAIRequest({
      model: 'llama3-8b-8192',
      messages: [
        { role: 'developer', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Weather in ' },
            { type: 'text', text: 'Paris?' },
          ],
        },
        {
          role: 'ai',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }],
        },
        { role: 'tool', content: 'sunny', tool_call_id: 'c1' },
      ],
      temperature: 0.2,
      topP: 0.9,
      maxTokens: 64,
      stop: ['END'],
      seed: 7,
      presencePenalty: 0.5,
      frequencyPenalty: 0.25,
      topK: 20,
      minP: 0.05,
      repeatPenalty: 1.1,
      logitBias: { '42': -100 },
      parallelToolCalls: false,
      tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }],
      toolChoice: 'auto',
      responseFormat: { type: 'json_object' },
    });
    expect(JSON.parse(JSON.stringify(body))).toEqual({
      model: 'llama3-8b-8192',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }],
        },
        { role: 'tool', content: 'sunny', tool_call_id: 'c1' },
      ],
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 64,
      stop: ['END'],
      seed: 7,
      presence_penalty: 0.5,
      frequency_penalty: 0.25,
      top_k: 20,
      min_p: 0.05,
      repeat_penalty: 1.1,
      logit_bias: { '42': -100 },
      parallel_tool_calls: false,
      tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }],
      tool_choice: 'auto',
      response_format: { type: 'json_object' },
    });
  });

  it('leaves tool_choice out when there are no tools', () => {
    const body = toOpenAIRequest({ model: 'm', messages: [{ role: 'user', content: 'hi' }], toolChoice: 'none' });
    expect(body.tool_choice).toBeUndefined();
    expect(body.tools).toBeUndefined();
  });
});

describe('openAIEvents', () => {
  it('streams text deltas and ends with the finish reason and usage', async () => {
    const events = await collect(
      openAIEvents(
        feed([
          delta({ role: 'assistant', content: '' }),
          delta({ content: 'Hel' }),
          delta({ content: 'lo' }),
          delta({}, 'length'),
          {
            id: 'chatcmpl-1',
            choices: [],
            usage: {
              prompt_tokens: 5,
              completion_tokens: 2,
              total_tokens: 7,
              prompt_tokens_details: { cached_tokens: 4 },
            },
          },
          '[DONE]',
        ]),
        { name: 'OpenAI' },
      ),
    );
    expect(events).toEqual([
      { type: 'text', text: 'Hel' },
      { type: 'text', text: 'lo' },
      {
        type: 'done',
        finishReason: 'length',
        usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7, prompt_tokens_details: { cached_tokens: 4 } },
      },
    ]);
  });

  it('passes on the log-probabilities of each text delta; asks for them as OpenAI names them', async () => {
    const lp = { token: 'Hi', logprob: -0.1, bytes: [72, 105], top_logprobs: [] };
    const events = await collect(
      openAIEvents(
        feed([
          {
            id: 'c',
            choices: [{ index: 0, delta: { content: 'Hi' }, logprobs: { content: [lp] }, finish_reason: null }],
          },
          delta({}, 'stop'),
          '[DONE]',
        ]),
        { name: 'OpenAI' },
      ),
    );
    expect(events[0]).toEqual({ type: 'text', text: 'Hi', logprobs: [lp] });
    const body = toOpenAIRequest({ model: 'm', messages: [], logprobs: 2 });
    expect(body).toMatchObject({ logprobs: true, top_logprobs: 2 });
    expect(toOpenAIRequest({ model: 'm', messages: [], logprobs: 0 })).toMatchObject({ logprobs: true });
  });

  it('joins tool-call deltas by index into whole calls, in index order', async () => {
    const events = await collect(
      openAIEvents(
        feed([
          delta({
            tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'weather', arguments: '' } }],
          }),
          delta({ tool_calls: [{ index: 0, function: { arguments: '{"ci' } }] }),
          delta({
            tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'time', arguments: '{"tz"' } }],
          }),
          delta({ tool_calls: [{ index: 0, function: { arguments: 'ty":"Paris"}' } }] }),
          delta({ tool_calls: [{ index: 1, function: { arguments: ':"CET"}' } }] }),
          delta({}, 'tool_calls'),
          '[DONE]',
        ]),
        { name: 'OpenAI' },
      ),
    );
    expect(events).toEqual([
      {
        type: 'tool_call',
        call: { id: 'call_a', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
      },
      {
        type: 'tool_call',
        call: { id: 'call_b', type: 'function', function: { name: 'time', arguments: '{"tz":"CET"}' } },
      },
      { type: 'done', finishReason: 'tool_calls', usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 } },
    ]);
  });

  it('fills in what lax servers leave out: no index, no id, object arguments, "stop" with tool calls, x_groq usage', async () => {
    const events = await collect(
      openAIEvents(
        feed([
          delta({ tool_calls: [{ function: { name: 'ping', arguments: { host: 'a' } } }] }),
          {
            ...delta({}, 'stop'),
            x_groq: { usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } },
          },
        ]),
        { name: 'Groq' },
      ),
    );
    expect(events[0]).toMatchObject({
      type: 'tool_call',
      call: { type: 'function', function: { name: 'ping', arguments: '{"host":"a"}' } },
    });
    expect((events[0] as { call: { id: string } }).call.id).toMatch(/^call_/);
    expect(events[1]).toEqual({
      type: 'done',
      finishReason: 'tool_calls',
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
    });
  });

  it('fails with 502 on a stream cut before its end, but ends with "stop" when the caller aborted', async () => {
    const cut = collect(openAIEvents(feed([delta({ content: 'Hi' })]), { name: 'OpenAI' }));
    await expect(cut).rejects.toMatchObject({ status: 502, message: 'OpenAI ended the stream before finishing' });
    const controller = new AbortController();
    controller.abort();
    const stopped = await collect(
      openAIEvents(feed([delta({ content: 'Hi' })]), { name: 'OpenAI', signal: controller.signal }),
    );
    expect(stopped.at(-1)).toMatchObject({ type: 'done', finishReason: 'stop' });
  });

  it('turns an error chunk into an AppError with its status', async () => {
    const err = await collect(
      openAIEvents(
        feed([
          delta({ content: 'a' }),
          { error: { object: 'error', message: 'context too long', type: 'BadRequestError', code: 400 } },
        ]),
        { name: 'vLLM' },
      ),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ status: 400, message: 'vLLM (upstream) says: context too long' });
    await expect(collect(openAIEvents(feed(['{oops']), { name: 'vLLM' }))).rejects.toMatchObject({ status: 502 });
  });
});
