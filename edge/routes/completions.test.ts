import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSSE } from '../../shared/sse.ts';
import { inProcessRemoteInference } from '../../test/helpers/in-process-runner.ts';
import { testApp } from '../../test/helpers/test-app.ts';
import { SCRIPTED_ANSWER } from '../../test/helpers/tiny-models.ts';

for (const [topology, inference] of [
  ['embedded', undefined],
  ['edge → runner', () => inProcessRemoteInference()],
] as const) {
  describe(`POST /v1/completions (${topology})`, () => {
    let t: Awaited<ReturnType<typeof testApp>>;
    beforeAll(async () => {
      t = await testApp({ inference: inference?.() });
    });
    afterAll(() => t.cleanup());
    const complete = (body: Record<string, unknown>) =>
      t.app.request('/v1/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tiny-chat', temperature: 0, ...body }),
      });

    it('answers a text_completion with text, finish_reason and usage', async () => {
      const res = await complete({ prompt: 'Once upon a time' });
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body).toMatchObject({
        object: 'text_completion',
        model: 'tiny-chat',
        choices: [{ index: 0, text: SCRIPTED_ANSWER, logprobs: null, finish_reason: 'stop' }],
        usage: { completion_tokens: 3 },
      });
      expect(body.id).toMatch(/^cmpl-/);
      expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + 3);
    });

    it('streams text deltas, then finish_reason, the usage chunk and [DONE]', async () => {
      const res = await complete({ prompt: ['Once'], stream: true, stream_options: { include_usage: true } });
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      const data: string[] = [];
      for await (const d of parseSSE(res.body!)) data.push(d);
      expect(data.at(-1)).toBe('[DONE]');
      const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
      for (const c of chunks) expect(c.object).toBe('text_completion');
      const texts = chunks.filter((c) => c.choices.length).map((c) => c.choices[0]);
      expect(texts.map((c) => c.text).join('')).toBe(SCRIPTED_ANSWER);
      expect(texts.at(-1).finish_reason).toBe('stop');
      expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 3 } });
    });

    it('fills the middle with suffix on a FIM model; echo prepends the prompt; max_tokens cuts with length', async () => {
      const fill = await (await complete({ model: 'tiny-fim', prompt: 'def f(', suffix: '):' })).json();
      expect(fill.choices[0].text).toBe(SCRIPTED_ANSWER);
      const echoed = await (await complete({ prompt: 'Once', echo: true })).json();
      expect(echoed.choices[0].text).toBe(`Once${SCRIPTED_ANSWER}`);
      const cut = await (await complete({ prompt: 'Once', max_tokens: 1 })).json();
      expect(cut.choices[0]).toMatchObject({ text: 'Hello', finish_reason: 'length' });
    });

    it('logprobs N: the legacy shape (tokens, token_logprobs, top_logprobs, text_offset), streaming or not', async () => {
      const body = await (await complete({ prompt: 'Once', logprobs: 2, echo: true })).json();
      const lp = body.choices[0].logprobs;
      expect(lp.tokens.join('')).toBe(SCRIPTED_ANSWER);
      expect(lp.token_logprobs).toHaveLength(lp.tokens.length);
      for (const v of lp.token_logprobs) expect(v).toBeLessThanOrEqual(0);
      expect(lp.top_logprobs.map((t: Record<string, number>) => Object.keys(t).length)).toEqual([2, 2, 2]);
      expect(lp.text_offset[0]).toBe('Once'.length);
      expect(lp.text_offset[1]).toBe('Once'.length + lp.tokens[0].length);
      const res = await complete({ prompt: 'Once', logprobs: 0, stream: true });
      const chunks: Array<{ choices: Array<{ text: string; logprobs: { tokens: string[] } | null }> }> = [];
      for await (const d of parseSSE(res.body!)) if (d !== '[DONE]') chunks.push(JSON.parse(d));
      const streamed = chunks.flatMap((c) => c.choices[0]?.logprobs?.tokens ?? []);
      expect(streamed.join('')).toBe(SCRIPTED_ANSWER);
      expect((await (await complete({ prompt: 'Once' })).json()).choices[0].logprobs).toBeNull();
    });

    it('a session named with X-Session-ID keeps the model (and the runner) of its completions', async () => {
      const first = await t.app.request('/v1/session');
      const id = first.headers.get('x-session-id')!;
      const res = await t.app.request('/v1/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-session-id': id },
        body: JSON.stringify({ model: 'tiny-chat', prompt: 'Once', max_tokens: 2 }),
      });
      expect(res.status).toBe(200);
      await res.json();
      const after = await (await t.app.request('/v1/session', { headers: { 'x-session-id': id } })).json();
      expect(after).toMatchObject({ session_id: id, current_model: 'tiny-chat' });
    });

    it('bad input is a 400 naming the field', async () => {
      for (const [body, param] of [
        [{ prompt: ['a', 'b'] }, 'prompt'],
        [{ prompt: 'a', suffix: 'b' }, 'suffix'],
        [{ prompt: 'a', suffix: 'b', echo: true, model: 'tiny-fim' }, 'echo'],
        [{ prompt: 'a', logprobs: 6 }, 'logprobs'],
        [{ prompt: 'a', best_of: 3 }, 'best_of'],
        [{ prompt: 'word '.repeat(600) }, 'max_tokens'],
        [{ prompt: 'a', logit_bias: { '99999999': 1 } }, 'logit_bias'],
        [{}, 'prompt'],
      ] as const) {
        const res = await complete(body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect((await res.json()).error.param).toBe(param);
      }
    });
  });
}
