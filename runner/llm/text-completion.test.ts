import type { LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppError } from '../../shared/errors.ts';
import type { ChatEvent } from '../../shared/schemas/chat.ts';
import type { CompletionRequest } from '../../shared/schemas/completions.ts';
import { SCRIPTED_ANSWER, TINY_CATALOG } from '../../test/helpers/tiny-models.ts';
import { tinyEngine } from '../../test/helpers/test-app.ts';
import { llamaRuntime } from './llama-runtime.ts';
import { completionTokens } from './text-completion.ts';

describe('completion prompt tokens', () => {
  let fim: LlamaModel;
  let plain: LlamaModel;
  beforeAll(async () => {
    const llama = await llamaRuntime();
    fim = await llama.loadModel({ modelPath: TINY_CATALOG.models['tiny-fim']!.source });
    plain = await llama.loadModel({ modelPath: TINY_CATALOG.models['tiny-chat']!.source });
  });
  afterAll(async () => {
    await fim.dispose();
    await plain.dispose();
  });
  const text = (model: LlamaModel, request: Omit<CompletionRequest, 'model'>, budget = 400) =>
    model.detokenize(completionTokens(model, { model: 'm', ...request }, budget), true);

  it('a prompt gets the BOS once, and special tokens written in it are read as such', () => {
    const tokens = completionTokens(plain, { model: 'm', prompt: '<|im_start|>user' }, 400);
    expect(tokens[0]).toBe(plain.tokens.bos);
    expect(tokens[1]).toBe(plain.tokenize('<|im_start|>', true)[0]);
    expect(completionTokens(plain, { model: 'm', prompt: '<s>hi' }, 400).filter((t) => t === tokens[0])).toHaveLength(
      1,
    );
  });

  it('fill-in-the-middle: prefix, suffix, middle, in the model’s FIM tokens', () => {
    expect(text(fim, { prompt: 'def f(', suffix: ') return 1' })).toBe(
      '<s><|fim_prefix|>def f(<|fim_suffix|>) return 1<|fim_middle|>',
    );
  });

  it('a fill that does not fit keeps the end of the prefix and the start of the suffix', () => {
    const prefix = Array.from({ length: 200 }, (_, i) => `p${i}`).join(' ');
    const suffix = Array.from({ length: 200 }, (_, i) => `s${i}`).join(' ');
    const tokens = completionTokens(fim, { model: 'm', prompt: prefix, suffix }, 120);
    expect(tokens.length).toBeLessThanOrEqual(120);
    const filled = fim.detokenize(tokens, true);
    expect(filled).toMatch(/p199<\|fim_suffix\|>s0 /);
    expect(filled).not.toContain('p0 ');
    expect(filled).not.toContain('s199');
  });

  it('a suffix on a model without FIM tokens is a 400 on suffix', () => {
    expect(() => completionTokens(plain, { model: 'tiny-chat', prompt: 'a', suffix: 'b' }, 400)).toThrow(
      expect.objectContaining({ status: 400, param: 'suffix', message: expect.stringMatching(/fill-in-the-middle/) }),
    );
  });
});

describe('LlmEngine.complete', () => {
  const engine = tinyEngine();
  afterAll(() => engine.dispose());

  async function complete(request: CompletionRequest) {
    let text = '';
    let done: Extract<ChatEvent, { type: 'done' }> | undefined;
    for await (const e of await engine.complete(request, { sessionId: 's' })) {
      if (e.type === 'text') text += e.text;
      if (e.type === 'done') done = e;
    }
    return { text, done };
  }

  it('continues a prompt and fills a gap, with usage; max_tokens ends it with length', async () => {
    const plain = await complete({ model: 'tiny-chat', prompt: 'Once upon a time', temperature: 0 });
    expect(plain.text).toBe(SCRIPTED_ANSWER);
    expect(plain.done).toMatchObject({ finishReason: 'stop', usage: { completion_tokens: 3 } });
    expect(plain.done!.usage.prompt_tokens).toBeGreaterThan(1);
    const fill = await complete({ model: 'tiny-fim', prompt: 'def f(', suffix: ')', temperature: 0 });
    expect(fill.text).toBe(SCRIPTED_ANSWER);
    const cut = await complete({ model: 'tiny-chat', prompt: 'Once', maxTokens: 1, temperature: 0 });
    expect(cut).toMatchObject({ text: 'Hello', done: { finishReason: 'length', usage: { completion_tokens: 1 } } });
  });

  it('a prompt that leaves no room for max_tokens is a 400 on max_tokens, and leaves nothing busy', async () => {
    const err = await complete({ model: 'tiny-chat', prompt: 'word '.repeat(600), maxTokens: 16 }).catch(
      (e: AppError) => e,
    );
    expect(err).toMatchObject({ status: 400, param: 'max_tokens' });
    expect(engine.busy).toBe(0);
  });
});
