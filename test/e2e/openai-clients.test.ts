import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startListening, type Started } from '../helpers/processes.ts';
import { z } from 'zod';
import { SCRIPTED_ANSWER, TINY_CATALOG, TOOL_ANSWER } from '../helpers/tiny-models.ts';

const RUNNER_SECRET = 'openai-clients-runner-secret';

/** The official clients against the embedded server and against an edge forwarding to a runner. */
describe.each(['embedded', 'edge + runner'] as const)('real OpenAI clients: %s', (topology) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgerunner-clients-'));
  const catalog = join(dir, 'models.json');
  writeFileSync(catalog, JSON.stringify(TINY_CATALOG));
  const running: Started[] = [];
  let baseURL = '';

  beforeAll(async () => {
    const common = { HOST: '127.0.0.1', PORT: '0', MODELS_FILE: catalog, LLM_THREADS: '1' };
    if (topology === 'embedded') {
      running.push(await startListening('start', { ...common, DATA_DIR: join(dir, 'data') }));
    } else {
      const runner = await startListening('runner', { ...common, RUNNER_ID: 'clients-runner', RUNNER_SECRET });
      running.push(runner);
      running.push(
        await startListening('start', {
          ...common,
          DATA_DIR: join(dir, 'data'),
          RUNNER_URLS: runner.url,
          RUNNER_SECRET,
        }),
      );
    }
    baseURL = `${running.at(-1)!.url}/v1`;
  });
  afterAll(async () => {
    await Promise.all(running.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('openai: models.list, chat.completions.create, create({stream}), .stream() helper', async () => {
    const client = new OpenAI({ baseURL, apiKey: 'sk-anything' });
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toEqual(Object.keys(TINY_CATALOG.models));

    const completion = await client.chat.completions.create({
      model: 'tiny-chat',
      temperature: 0,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(completion.choices[0]!.message.content).toBe(SCRIPTED_ANSWER);
    expect(completion.usage!.completion_tokens).toBeGreaterThan(0);

    const stream = await client.chat.completions.create({
      model: 'tiny-chat',
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Hi' }],
    });
    let text = '';
    let usage = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      usage = chunk.usage?.total_tokens ?? usage;
    }
    expect(text).toBe(SCRIPTED_ANSWER);
    expect(usage).toBeGreaterThan(0);

    const runner = client.chat.completions.stream({
      model: 'tiny-chat',
      temperature: 0,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]!.message.content).toBe(SCRIPTED_ANSWER);
    expect(final.choices[0]!.finish_reason).toBe('stop');
  });

  it('openai: chat logprobs with top_logprobs', async () => {
    const client = new OpenAI({ baseURL, apiKey: 'sk-anything' });
    const completion = await client.chat.completions.create({
      model: 'tiny-chat',
      temperature: 0,
      logprobs: true,
      top_logprobs: 2,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    const content = completion.choices[0]!.logprobs!.content!;
    expect(content.map((t) => t.token).join('')).toBe(SCRIPTED_ANSWER);
    expect(content[0]!.top_logprobs).toHaveLength(2);
  });

  it('openai: completions.create (legacy text completion, fill-in-the-middle with suffix, streaming)', async () => {
    const client = new OpenAI({ baseURL, apiKey: 'sk-anything' });
    const text = await client.completions.create({ model: 'tiny-chat', prompt: 'Once', temperature: 0 });
    expect(text.choices[0]!.text).toBe(SCRIPTED_ANSWER);
    const fill = await client.completions.create({ model: 'tiny-fim', prompt: 'def f(', suffix: '):', temperature: 0 });
    expect(fill.choices[0]!.text).toBe(SCRIPTED_ANSWER);
    let streamed = '';
    const stream = await client.completions.create({
      model: 'tiny-chat',
      prompt: 'Once',
      temperature: 0,
      stream: true,
    });
    for await (const chunk of stream) streamed += chunk.choices[0]?.text ?? '';
    expect(streamed).toBe(SCRIPTED_ANSWER);
  });

  it('openai: errors come back as APIError with our status and message', async () => {
    const client = new OpenAI({ baseURL, apiKey: 'sk-anything', maxRetries: 0 });
    const err = await client.chat.completions
      .create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(404);
    expect((err as Error).message).toContain('no-such-model');
  });

  it('Vercel AI SDK (openai-compatible): generateText and streamText', async () => {
    const provider = createOpenAICompatible({ name: 'edgerunner', baseURL, apiKey: 'x', includeUsage: true });
    const { text, usage } = await generateText({ model: provider('tiny-chat'), prompt: 'Hi', temperature: 0 });
    expect(text).toBe(SCRIPTED_ANSWER);
    expect(usage.outputTokens).toBeGreaterThan(0);
    const result = streamText({ model: provider('tiny-chat'), prompt: 'Hi', temperature: 0 });
    let streamed = '';
    for await (const delta of result.textStream) streamed += delta;
    expect(streamed).toBe(SCRIPTED_ANSWER);
  });

  it('openai: a tool call, then the answer after the tool result', async () => {
    const client = new OpenAI({ baseURL, apiKey: 'sk-anything' });
    const tools = [
      { type: 'function' as const, function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
    ];
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'What time is it?' }];
    const first = await client.chat.completions.create({ model: 'tiny-tools', temperature: 0, messages, tools });
    const call = first.choices[0]!.message.tool_calls![0]!;
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call.type === 'function' && call.function.name).toBe('get_time');
    messages.push(first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: '12:00' });
    const second = await client.chat.completions.create({ model: 'tiny-tools', temperature: 0, messages, tools });
    expect(second.choices[0]!.message.content).toBe(TOOL_ANSWER);
  });

  it('Vercel AI SDK: a multi-step tool loop', async () => {
    const provider = createOpenAICompatible({ name: 'edgerunner', baseURL, apiKey: 'x' });
    let calls = 0;
    const result = await generateText({
      model: provider('tiny-tools'),
      prompt: 'What time is it?',
      temperature: 0,
      tools: {
        get_time: tool({
          description: 'The current time',
          inputSchema: z.object({}),
          execute: async () => {
            calls++;
            return '12:00';
          },
        }),
      },
      stopWhen: stepCountIs(3),
    });
    expect(calls).toBe(1);
    expect(result.steps.length).toBe(2);
    expect(result.text).toBe(TOOL_ANSWER);
  });
});
