import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AppError } from '../../shared/errors.ts';
import type { ChatRequest } from '../../shared/schemas/chat.ts';
import { buildTinyLlama, tinyLlamaVocabulary } from '../../test/fixtures/tiny-llama.ts';
import { TINY_CATALOG } from '../../test/helpers/tiny-models.ts';
import { tinyEngine } from '../../test/helpers/test-app.ts';

const PIECES = ['one', ' two', ' three', ' four'];
const ROUND = PIECES.join('');
// Loops over PIECES; after each piece "!" is the runner-up (8 against the chain's 10), so a repeat penalty
// of 2 on a piece already written (10 / 2 < 8) turns the loop's second round into "!".
const SCRIPT = { pieces: ['!'], next: PIECES.map((p) => [p, '!', 8] as const) };
const vocabulary = tinyLlamaVocabulary(PIECES, SCRIPT);
const dir = mkdtempSync(join(tmpdir(), 'edgerunner-sampling-'));
const repeating = join(dir, 'tiny-repeat.gguf');
writeFileSync(
  repeating,
  buildTinyLlama({
    weights: 'scripted',
    loop: true,
    answer: PIECES,
    script: SCRIPT,
  }),
);

const engine = tinyEngine({
  ...TINY_CATALOG.models,
  'tiny-repeat': { kind: 'llm', source: repeating, contextSize: 1024 },
});
afterAll(() => engine.dispose());

async function answer(request: Omit<ChatRequest, 'messages'>): Promise<string> {
  let text = '';
  const messages: ChatRequest['messages'] = [{ role: 'user', content: 'Say something.' }];
  for await (const e of await engine.chat({ messages, ...request }, { sessionId: 's' })) {
    if (e.type === 'text') text += e.text;
  }
  return text;
}

// A tool offered with tool_choice "none" sends a plain request through LlamaChat instead of the batcher.
const PATHS = {
  batcher: {},
  LlamaChat: {
    tools: [{ type: 'function' as const, function: { name: 'noop', parameters: { type: 'object', properties: {} } } }],
    toolChoice: 'none' as const,
  },
};

/** top_k, min_p, repeat_penalty and logit_bias reach the sampler on both generation paths. */
describe.each(Object.entries(PATHS))('sampling parameters on the %s path', (_, path) => {
  const id = (piece: string) => vocabulary.tokenOf(piece)!;
  it('top_k 1 and min_p 1 keep only the likeliest token: a hot, seeded sample is the greedy answer', async () => {
    const base = { model: 'tiny-random', maxTokens: 16, ...path };
    const greedy = await answer({ ...base, temperature: 0 });
    const hot = { ...base, temperature: 2, seed: 3 };
    expect(await answer(hot)).not.toBe(greedy);
    expect(await answer({ ...hot, topK: 1 })).toBe(greedy);
    expect(await answer({ ...hot, minP: 1 })).toBe(greedy);
  });

  it('repeat_penalty turns away from what was written; 1 changes nothing', async () => {
    const base = { model: 'tiny-repeat', maxTokens: 8, temperature: 0, ...path };
    expect(await answer(base)).toBe(ROUND + ROUND);
    expect(await answer({ ...base, repeatPenalty: 1 })).toBe(ROUND + ROUND);
    expect(await answer({ ...base, repeatPenalty: 2 })).toMatch(new RegExp(`^${ROUND}!`));
  });

  it('logit_bias +100 makes a token every next one; -100 bans it', async () => {
    const base = { model: 'tiny-repeat', maxTokens: 2, temperature: 0, ...path };
    expect(await answer({ ...base, logitBias: { [id(' three')]: 100 } })).toMatch(/^ ?three three$/);
    expect(await answer({ ...base, logitBias: { [id('one')]: -100 } })).not.toMatch(/^one/);
  });

  it('a logit_bias token the model does not have is a 400 on logit_bias, and leaves nothing busy', async () => {
    const err = await answer({ model: 'tiny-repeat', maxTokens: 3, logitBias: { '100000': 5 }, ...path }).catch(
      (e: AppError) => e,
    );
    expect(err).toMatchObject({ status: 400, param: 'logit_bias', message: expect.stringMatching(/vocabulary/) });
    expect(engine.busy).toBe(0);
  });
});

describe('log-probabilities', () => {
  async function events(request: Omit<ChatRequest, 'messages'>) {
    const out = [];
    const messages: ChatRequest['messages'] = [{ role: 'user', content: 'Say something.' }];
    for await (const e of await engine.chat({ messages, ...request }, { sessionId: 'lp' })) out.push(e);
    return out;
  }

  it('each answer token with its log-probability and the likeliest alternatives, as its text streams', async () => {
    const out = await events({ model: 'tiny-repeat', maxTokens: 3, temperature: 0, logprobs: 2 });
    const texts = out.flatMap((e) => (e.type === 'text' ? [e] : []));
    const tokens = texts.flatMap((e) => e.logprobs ?? []);
    expect(tokens.map((t) => t.token).join('')).toBe(texts.map((e) => e.text).join(''));
    expect(tokens.map((t) => t.token)).toEqual(['one', ' two', ' three']);
    for (const [i, t] of tokens.entries()) {
      expect(t.logprob).toBeLessThanOrEqual(0);
      expect(t.logprob).toBeGreaterThan(-0.01);
      expect(t.bytes).toEqual([...new TextEncoder().encode(t.token)]);
      expect(t.top_logprobs).toHaveLength(2);
      expect(t.top_logprobs[0]!.token).toBe(t.token);
      expect(t.top_logprobs[1]!.logprob).toBeLessThan(-1);
      // After a piece the runner-up is "!" (8 against the chain's 10, before the output scale).
      if (i > 0) expect(t.top_logprobs[1]!.token).toBe('!');
    }
    const plain = await events({ model: 'tiny-repeat', maxTokens: 3, temperature: 0 });
    expect(plain.some((e) => e.type === 'text' && e.logprobs)).toBe(false);
  });

  it('are not reported with tools or a response_format: a 400 on logprobs, nothing busy', async () => {
    for (const extra of [PATHS.LlamaChat, { responseFormat: { type: 'json_object' as const } }]) {
      const err = await events({ model: 'tiny-repeat', maxTokens: 3, logprobs: 0, ...extra }).catch((e: AppError) => e);
      expect(err).toMatchObject({ status: 400, param: 'logprobs' });
    }
    expect(engine.busy).toBe(0);
  });
});
