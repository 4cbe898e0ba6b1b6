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

    it('bad input is a 400 naming the field', async () => {
      for (const [body, param] of [
        [{ prompt: ['a', 'b'] }, 'prompt'],
        [{ prompt: 'a', suffix: 'b' }, 'suffix'],
        [{ prompt: 'a', suffix: 'b', echo: true, model: 'tiny-fim' }, 'echo'],
        [{ prompt: 'a', logprobs: 1 }, 'logprobs'],
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
