import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSSE } from '../../shared/sse.ts';
import { testApp } from '../../test/helpers/test-app.ts';

const post = (body: unknown, session?: string, signal?: AbortSignal) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(session ? { 'x-session-id': session } : {}) },
  body: JSON.stringify(body),
  signal,
});
const long = (content: string, model = 'tiny-loop') => ({
  model,
  stream: true,
  temperature: 0,
  max_tokens: 6000,
  messages: [{ role: 'user', content }],
});

/** Reads SSE chunks of a completion stream; returns the text and the finish reason. */
async function read(res: Response, onFirst?: () => void) {
  let text = '';
  let finish: string | null = null;
  let first = true;
  for await (const data of parseSSE(res.body!)) {
    if (data === '[DONE]') break;
    const chunk = JSON.parse(data);
    const delta = chunk.choices[0]?.delta?.content ?? '';
    text += delta;
    finish = chunk.choices[0]?.finish_reason ?? finish;
    if (delta && first) {
      first = false;
      onFirst?.();
    }
  }
  return { text, finish };
}

describe('generation control: stop, disconnect, parallel sessions', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let full = '';
  beforeAll(async () => {
    t = await testApp();
    const reference = await read(
      await t.app.request('/v1/chat/completions', post({ ...long('alpha'), max_tokens: 300 })),
    );
    expect(reference.finish).toBe('length');
    full = reference.text;
  });
  afterAll(() => t.cleanup());

  it('POST /v1/stop ends the running stream early; the session keeps working', async () => {
    const res = await t.app.request('/v1/chat/completions', post(long('alpha')));
    const session = res.headers.get('x-session-id')!;
    let stopped: Promise<Response> | undefined;
    const { text, finish } = await read(res, () => {
      stopped = Promise.resolve(t.app.request('/v1/stop', { method: 'POST', headers: { 'x-session-id': session } }));
    });
    expect(await (await stopped!).json()).toEqual({ status: 'stopped' });
    expect(finish).toBe('stop');
    expect(text.length).toBeGreaterThan(0);
    // 6000 tokens would take seconds; a stop lands within a few tokens of the first.
    expect(full.startsWith(text.slice(0, 20))).toBe(true);
    expect(text.length).toBeLessThan(full.length);
    const next = await t.app.request(
      '/v1/chat/completions',
      post({ ...long('alpha'), max_tokens: 5, stream: false }, session),
    );
    expect(next.status).toBe(200);
    expect((await next.json()).choices[0].finish_reason).toBe('length');
  });

  it('a client that disconnects stops its generation and frees the sequence', async () => {
    const controller = new AbortController();
    const res = await t.app.request('/v1/chat/completions', post(long('beta'), undefined, controller.signal));
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    controller.abort();
    await expect.poll(async () => (await t.deps.inference.status())[0]!.busy, { timeout: 5_000, interval: 50 }).toBe(0);
  });

  it('two sessions in parallel never mix their output', async () => {
    // Two sessions on two sequences of one context: each stream must be exactly what it is alone.
    const requests = ['first conversation', 'a different second one'].map((p) => ({
      ...long(p, 'tiny-random'),
      max_tokens: 40,
    }));
    const alone: string[] = [];
    for (const r of requests) {
      alone.push(
        (await (await t.app.request('/v1/chat/completions', post({ ...r, stream: false }))).json()).choices[0].message
          .content,
      );
    }
    const together = await Promise.all(
      requests.map(async (r) => (await read(await t.app.request('/v1/chat/completions', post(r)))).text),
    );
    expect(together).toEqual(alone);
    expect(alone[0]).not.toEqual(alone[1]);
  });
});
