import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../shared/schemas/limits.ts';
import { inProcessRemoteInference } from '../../test/helpers/in-process-runner.ts';
import { testApp } from '../../test/helpers/test-app.ts';

/** A chat body whose one tool's parameters nest `{type: object, properties: {a: …}}` `levels` deep (as JSON text: too deep for JSON.stringify). */
function deepToolBody(levels: number, stream: boolean): string {
  const schema = '{"type":"object","properties":{"a":'.repeat(levels) + '{"type":"string"}' + '}}'.repeat(levels);
  const head = JSON.stringify({ model: 'tiny-tools', stream, messages: [{ role: 'user', content: 'hi' }] }).slice(
    0,
    -1,
  );
  return `${head},"tools":[{"type":"function","function":{"name":"f","parameters":${schema}}}]}`;
}

const tool = (parameters: Record<string, unknown>, name = 'f') => ({
  type: 'function',
  function: { name, parameters },
});
const REF_LOOP = { $ref: '#/$defs/a', $defs: { a: { $ref: '#/$defs/b' }, b: { anyOf: [{ $ref: '#/$defs/a' }] } } };
const user = [{ role: 'user', content: 'hi' }];

for (const [topology, inference] of [
  ['embedded', undefined],
  ['edge → runner', () => inProcessRemoteInference()],
] as const) {
  describe(`bad input is a 400 naming the field and the limit (${topology})`, () => {
    let t: Awaited<ReturnType<typeof testApp>>;
    beforeAll(async () => {
      t = await testApp({ inference: inference?.() });
    });
    afterAll(() => t.cleanup());
    const post = (path: string, body: unknown) =>
      t.app.request(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    const chat = (body: Record<string, unknown>) => post('/v1/chat/completions', { model: 'tiny-tools', ...body });
    async function expect400(res: Response, param: string, message: RegExp) {
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/json');
      const { error } = await res.json();
      expect(error.param).toBe(param);
      expect(error.message).toMatch(message);
    }

    it('tool parameters 3,000 levels deep, streaming or not', async () => {
      for (const stream of [false, true]) {
        await expect400(
          await post('/v1/chat/completions', deepToolBody(3000, stream)),
          'tools.0.function.parameters',
          new RegExp(`more than ${LIMITS.schemaDepth} levels`),
        );
      }
    });

    it('a $ref loop in tool parameters or in response_format, streaming or not', async () => {
      for (const stream of [false, true]) {
        await expect400(
          await chat({ messages: user, stream, tools: [tool(REF_LOOP)] }),
          'tools.0.function.parameters',
          /\$ref loop/,
        );
      }
      await expect400(
        await chat({ messages: user, tools: [tool({ type: 'object', properties: { x: { $ref: '#/$defs/none' } } })] }),
        'tools.0.function.parameters',
        /names nothing/,
      );
      await expect400(
        await chat({
          messages: user,
          stream: true,
          response_format: { type: 'json_schema', json_schema: { name: 'x', schema: REF_LOOP } },
        }),
        'response_format.json_schema.schema',
        /\$ref loop/,
      );
    });

    it('500 tools', async () => {
      const tools = Array.from({ length: 500 }, (_, i) => tool({ type: 'object', properties: {} }, `f${i}`));
      await expect400(await chat({ messages: user, tools }), 'tools', /more than 128 tools/);
    });

    it('a 1 MB system prompt, a 1 MB `system`, and 2 MB over all messages', async () => {
      const mb = 'x'.repeat(1024 * 1024);
      await expect400(
        await chat({ stream: true, messages: [{ role: 'system', content: mb }, ...user] }),
        'messages.0.content',
        /limit per message/,
      );
      await expect400(
        await chat({ messages: [{ role: 'system', content: [{ type: 'text', text: mb }] }, ...user] }),
        'messages.0.content.0.text',
        /limit per message/,
      );
      await expect400(await chat({ system: mb, messages: user }), 'system', /limit per message/);
      const half = 'y'.repeat(500 * 1024);
      const many = Array.from({ length: 6 }, () => ({ role: 'user', content: half }));
      await expect400(await chat({ messages: many }), 'messages', /over all messages/);
    });

    it('a 1 MB embedding input, too many inputs, a bad token id', async () => {
      const embed = (input: unknown) => post('/v1/embeddings', { model: 'tiny-chat', input });
      await expect400(await embed('x'.repeat(1024 * 1024)), 'input', /limit per input/);
      await expect400(await embed(['ok', 'x'.repeat(1024 * 1024)]), 'input.1', /limit per input/);
      await expect400(await embed(Array.from({ length: 2049 }, () => 'a')), 'input', /more than 2048 \(the limit\)/);
      await expect400(
        await embed([
          [1, 2],
          [3, -1],
        ]),
        'input.1.1',
        /token ids/,
      );
    });

    it('logprobs: top_logprobs needs logprobs, at most 20; not with tools (a 400 naming each)', async () => {
      await expect400(await chat({ messages: user, top_logprobs: 2 }), 'top_logprobs', /logprobs: true/);
      await expect400(await chat({ messages: user, logprobs: true, top_logprobs: 21 }), 'top_logprobs', /20/);
      const tools = [tool({ type: 'object', properties: {} })];
      await expect400(await chat({ messages: user, logprobs: true, tools }), 'logprobs', /tools/);
      const noop = await chat({ messages: user, max_tokens: 2, logprobs: false, top_logprobs: 0 });
      expect(noop.status).toBe(200);
    });

    it('llama-server sampling names, logit_bias and parallel_tool_calls are taken; bad values are a 400 naming each', async () => {
      for (const [param, value, message, named = param] of [
        ['top_k', -1, /0/],
        ['top_k', 1.5, /int/],
        ['min_p', 2, /1/],
        ['repeat_penalty', 0, /0/],
        ['logit_bias', { abc: 1 }, /token ids/, 'logit_bias.abc'],
        ['logit_bias', { '5': 500 }, /100/, 'logit_bias.5'],
        ['logit_bias', { '99999999': 5 }, /vocabulary/],
        ['parallel_tool_calls', 'no', /boolean/],
      ] as const) {
        await expect400(await chat({ messages: user, max_tokens: 2, [param]: value }), named, message);
      }
      const taken = await chat({
        messages: user,
        max_tokens: 2,
        top_k: 40,
        min_p: 0.05,
        repeat_penalty: 1.1,
        logit_bias: { '5': -100, '6': 2.5 },
        parallel_tool_calls: false,
      });
      expect(taken.status).toBe(200);
    });

    it('a bad request leaves the server (and its runner) answering', async () => {
      for (let i = 0; i < 3; i++)
        expect((await post('/v1/chat/completions', deepToolBody(3000, false))).status).toBe(400);
      const models = await t.app.request('/v1/models');
      expect(models.status).toBe(200);
    });
  });
}
