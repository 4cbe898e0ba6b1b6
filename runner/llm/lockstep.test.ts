import {
  LlamaChat,
  type BatchItem,
  type LlamaContext,
  type LlamaModel,
  type PrioritizedBatchItem,
} from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ChatMessage } from '../../shared/schemas/chat.ts';
import { LOOP_TEXT, SCRIPTED_ANSWER, TINY_CATALOG } from '../../test/helpers/tiny-models.ts';
import { tinyEngine } from '../../test/helpers/test-app.ts';
import { renderChatPrompt, type ChatPrompt } from './chat-prompt.ts';
import { toChatHistory } from './history.ts';
import { llamaRuntime } from './llama-runtime.ts';
import type { LlmEngine } from './llm-engine.ts';
import { ContextOverflowError, LockstepBatcher, type LockstepOptions } from './lockstep.ts';
import { OutputFilter } from './output-filter.ts';

interface Loaded {
  model: LlamaModel;
  context: LlamaContext;
  batcher: LockstepBatcher;
  /** Sequences per decode batch of the context, in order. */
  decodes: number[];
  /** Tokens per decode batch, in order. */
  decodedTokens: number[];
}

/** A context whose batching strategy records every decode batch (a public node-llama-cpp hook). */
async function load(name: keyof typeof TINY_CATALOG.models, sequences = 4, batchSize?: number): Promise<Loaded> {
  const llama = await llamaRuntime();
  const model = await llama.loadModel({ modelPath: TINY_CATALOG.models[name]!.source });
  const decodes: number[] = [];
  const decodedTokens: number[] = [];
  const context = await model.createContext({
    sequences,
    contextSize: 1024,
    batchSize,
    threads: 1,
    batching: {
      itemPrioritizationStrategy: ({ items, size }: { items: readonly BatchItem[]; size: number }) => {
        decodes.push(items.length);
        let left = size;
        const batch = items.map((item): PrioritizedBatchItem => {
          const processAmount = Math.min(item.tokens.length, left);
          left -= processAmount;
          return { item, processAmount };
        });
        decodedTokens.push(size - left);
        return batch;
      },
    },
  });
  return { model, context, batcher: new LockstepBatcher(context), decodes, decodedTokens };
}

const chat = (content: string, ...before: ChatMessage[]): ChatMessage[] => [
  { role: 'system', content: 'You are a helpful assistant.' },
  ...before,
  { role: 'user', content },
];

function prompt(model: LlamaModel, messages: ChatMessage[]): ChatPrompt {
  const rendered = renderChatPrompt(model, toChatHistory(messages));
  if (!rendered) throw new Error('the tiny models use ChatML: the prompt renders');
  return rendered;
}

/** The answer through node-llama-cpp's LlamaChat, on a fresh sequence. */
async function viaLlamaChat(l: Loaded, messages: ChatMessage[], options: { maxTokens?: number; stop?: string[] } = {}) {
  const sequence = l.context.getSequence();
  const llamaChat = new LlamaChat({ contextSequence: sequence });
  try {
    const result = await llamaChat.generateResponse(toChatHistory(messages), {
      temperature: 0,
      maxTokens: options.maxTokens,
      customStopTriggers: options.stop,
    });
    return { text: result.response, stopReason: result.metadata.stopReason };
  } finally {
    llamaChat.dispose();
    await sequence.dispose();
  }
}

/** The answer through the batcher, on a fresh sequence (or `sequence`). */
async function viaLockstep(l: Loaded, messages: ChatMessage[], options: LockstepOptions = {}) {
  const sequence = l.context.getSequence();
  try {
    const p = prompt(l.model, messages);
    let streamed = '';
    const result = await l.batcher.generate(sequence, p.tokens, {
      stops: [...(options.stops ?? []), ...p.stops],
      ...options,
      onTextChunk: (text) => (streamed += text),
    });
    expect(streamed).toBe(result.text);
    return result;
  } finally {
    await sequence.dispose();
  }
}

/**
 * A stream runs on one sequence of `l`; once it has 3 tokens, a long prompt arrives on another.
 * Counts the running stream's tokens from the prompt's arrival to its first answer token.
 */
async function duringPrefill(l: Loaded, batcher: LockstepBatcher, content: string) {
  const running = l.context.getSequence();
  const arriving = l.context.getSequence();
  const stop = new AbortController();
  try {
    let tokens = 0;
    let atArrival = -1;
    let atFirstAnswer = -1;
    let arrival: Promise<unknown> | undefined;
    let answer = '';
    const long = prompt(l.model, chat(content));
    const start = { steps: 0, promptChunks: 0, decodes: 0 };
    const stream = batcher.generate(running, prompt(l.model, chat('count')).tokens, {
      maxTokens: 900,
      signal: stop.signal,
      onTextChunk: () => {
        if (++tokens !== 3) return;
        atArrival = tokens;
        Object.assign(start, { ...batcher.stats, decodes: l.decodes.length });
        arrival = batcher.generate(arriving, long.tokens, {
          maxTokens: 5,
          onTextChunk: (text) => {
            if (!answer) atFirstAnswer = tokens;
            answer += text;
          },
        });
        void arrival.finally(() => stop.abort());
      },
    });
    await stream;
    await arrival;
    const end = batcher.stats;
    return {
      prompt: long.tokens.length,
      runningTokens: atFirstAnswer - atArrival,
      answer,
      batcher: { steps: end.steps - start.steps, promptChunks: end.promptChunks - start.promptChunks },
      // The decodes from the prompt's arrival until both streams ended.
      decodes: l.decodes.slice(start.decodes),
      decodedTokens: l.decodedTokens.slice(start.decodes),
    };
  } finally {
    stop.abort();
    await running.dispose();
    await arriving.dispose();
  }
}

describe('lock-step batched decoding', () => {
  const models = {} as Record<'chat' | 'loop' | 'random', Loaded>;
  beforeAll(async () => {
    models.chat = await load('tiny-chat');
    models.loop = await load('tiny-loop');
    models.random = await load('tiny-random');
  });
  afterAll(async () => {
    for (const l of Object.values(models)) {
      l.batcher.dispose();
      await l.context.dispose();
      await l.model.dispose();
    }
  });

  it('renders the prompt as LlamaChat does, with the chat wrapper’s stop trigger', async () => {
    const { model, context } = models.chat;
    const p = prompt(model, chat('hi'));
    expect(p.stops.map((s) => s.toString())).toContain('<|im_end|>');
    // LlamaChat evaluates the prompt, then each answer token but the last: after one token, exactly the prompt.
    const sequence = context.getSequence();
    const llamaChat = new LlamaChat({ contextSequence: sequence });
    try {
      await llamaChat.generateResponse(toChatHistory(chat('hi')), { temperature: 0, maxTokens: 1 });
      expect(sequence.contextTokens).toEqual(p.tokens);
    } finally {
      llamaChat.dispose();
      await sequence.dispose();
    }
  });

  it('writes the same greedy answers as LlamaChat', async () => {
    const scripted = await viaLockstep(models.chat, chat('hi'));
    expect(scripted).toMatchObject({ text: SCRIPTED_ANSWER, stopReason: 'eog', completionTokens: 3 });
    expect(scripted.text).toBe((await viaLlamaChat(models.chat, chat('hi'))).text);

    for (const l of [models.loop, models.random]) {
      for (const maxTokens of [1, 7, 40]) {
        const ours = await viaLockstep(l, chat('count'), { maxTokens });
        const theirs = await viaLlamaChat(l, chat('count'), { maxTokens });
        expect(ours.text).toBe(theirs.text);
        expect(ours.stopReason === 'maxTokens').toBe(theirs.stopReason === 'maxTokens');
      }
    }
  });

  it('ends at custom stop strings (also across tokens), as LlamaChat does', async () => {
    for (const stop of [' four', 'ee fo', 'eight.one']) {
      const ours = await viaLockstep(models.loop, chat('count'), { maxTokens: 40, stops: [stop] });
      const theirs = await viaLlamaChat(models.loop, chat('count'), { maxTokens: 40, stop: [stop] });
      expect(ours.stopReason).toBe('stop');
      expect(ours.text).toBe(theirs.text);
      expect((LOOP_TEXT + LOOP_TEXT).startsWith(ours.text + stop)).toBe(true);
    }
    const stopped = await viaLockstep(models.loop, chat('count'), { maxTokens: 40, stops: [' four'] });
    expect(stopped).toMatchObject({ text: 'one two three', completionTokens: 3 });
  });

  it('stops at maxTokens with exactly that many tokens; refuses what cannot fit the context', async () => {
    const result = await viaLockstep(models.loop, chat('count'), { maxTokens: 5 });
    expect(result).toMatchObject({ text: 'one two three four five', stopReason: 'maxTokens', completionTokens: 5 });
    await expect(viaLockstep(models.loop, chat('count'), { maxTokens: 1024 })).rejects.toBeInstanceOf(
      ContextOverflowError,
    );
  });

  it('an abort ends the generation after the step in flight, with the partial answer', async () => {
    const controller = new AbortController();
    const sequence = models.loop.context.getSequence();
    try {
      let chunks = 0;
      const result = await models.loop.batcher.generate(sequence, prompt(models.loop.model, chat('count')).tokens, {
        maxTokens: 900,
        signal: controller.signal,
        onTextChunk: () => {
          if (++chunks === 3) controller.abort();
        },
      });
      expect(result.stopReason).toBe('abort');
      expect(result.completionTokens).toBe(3);
      expect(result.text).toBe('one two three');
      // The sequence holds the prompt and what was generated, except the last token (never evaluated).
      expect(sequence.nextTokenIndex).toBe(result.promptTokens + result.completionTokens - 1);
    } finally {
      await sequence.dispose();
    }
  });

  it('an aborted signal before the start resolves at once with nothing', async () => {
    const sequence = models.loop.context.getSequence();
    try {
      const controller = new AbortController();
      const p = prompt(models.loop.model, chat('count')).tokens;
      const pending = models.loop.batcher.generate(sequence, p, { signal: controller.signal, maxTokens: 50 });
      controller.abort();
      expect(await pending).toMatchObject({ stopReason: 'abort', text: '', completionTokens: 0 });
    } finally {
      await sequence.dispose();
    }
  });

  it('a second turn of the same session evaluates only the new tokens', async () => {
    const { model, context, batcher } = models.chat;
    const sequence = context.getSequence();
    try {
      const first = chat('hi');
      const p1 = prompt(model, first);
      const turn1 = await batcher.generate(sequence, p1.tokens, { stops: p1.stops });
      expect(turn1).toMatchObject({ text: SCRIPTED_ANSWER, evaluatedPromptTokens: p1.tokens.length });

      const second = [
        ...first,
        { role: 'assistant' as const, content: turn1.text },
        { role: 'user' as const, content: 'more' },
      ];
      const p2 = prompt(model, second);
      const cached = sequence.contextTokens;
      let shared = 0;
      while (shared < cached.length && cached[shared] === p2.tokens[shared]) shared++;
      // At least the first prompt is a prefix of the second (the answer re-tokenizes its own way on this vocabulary).
      expect(shared).toBeGreaterThanOrEqual(p1.tokens.length);

      const before = sequence.tokenMeter.getState();
      const turn2 = await batcher.generate(sequence, p2.tokens, { stops: p2.stops });
      const after = sequence.tokenMeter.getState();
      expect(turn2.text).toBe(SCRIPTED_ANSWER);
      expect(turn2.promptTokens).toBe(p2.tokens.length);
      expect(turn2.evaluatedPromptTokens).toBe(p2.tokens.length - shared);
      expect(turn2.evaluatedPromptTokens).toBeLessThan(p2.tokens.length - p1.tokens.length + 1);
      // What the context decoded for this turn: the new prompt tokens, then each answer token.
      const decoded = after.usedInputTokens + after.usedOutputTokens - before.usedInputTokens - before.usedOutputTokens;
      expect(decoded).toBe(turn2.evaluatedPromptTokens + turn2.completionTokens);
    } finally {
      await sequence.dispose();
    }
  });

  it('4 concurrent generations share one decode per step', async () => {
    const l = models.random;
    const maxTokens = 60;
    const prompts = ['first', 'second one', 'a third prompt', 'and the fourth'].map((c) => prompt(l.model, chat(c)));
    const alone: string[] = [];
    for (const p of prompts) {
      const sequence = l.context.getSequence();
      alone.push((await l.batcher.generate(sequence, p.tokens, { maxTokens, stops: p.stops })).text);
      await sequence.dispose();
    }

    const sequences = prompts.map(() => l.context.getSequence());
    const steps = l.batcher.stats.steps;
    const decodes = l.decodes.length;
    const together = await Promise.all(
      prompts.map((p, i) => l.batcher.generate(sequences[i]!, p.tokens, { maxTokens, stops: p.stops })),
    );
    const stepsTaken = l.batcher.stats.steps - steps;
    const batches = l.decodes.slice(decodes);
    await Promise.all(sequences.map((s) => s.dispose()));

    expect(together.map((r) => r.text)).toEqual(alone);
    const generated = together.reduce(
      (n, r) => n + (r.stopReason === 'maxTokens' ? maxTokens : r.completionTokens + 1),
      0,
    );
    // One step per token of the longest answer, and one decode per step with every active sequence in it.
    expect(stepsTaken).toBe(
      Math.max(...together.map((r) => (r.stopReason === 'maxTokens' ? maxTokens : r.completionTokens + 1))),
    );
    expect(batches.length).toBe(stepsTaken);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(generated);
    expect(batches[0]).toBe(4);
  });

  it('reads a long prompt in pieces of at most the batch size while a running stream keeps getting tokens', async () => {
    const l = await load('tiny-loop', 2, 16);
    const longPrompt = (batcher: LockstepBatcher) => duringPrefill(l, batcher, 'word '.repeat(100));
    try {
      const whole = await longPrompt(new LockstepBatcher(l.context, { prefillChunk: false }));
      const chunked = await longPrompt(l.batcher);
      expect(chunked.prompt).toBeGreaterThan(160);
      expect(whole.prompt).toBe(chunked.prompt);

      // Before: the whole prompt in one step; the running stream gets the token decoded with the prompt's first batch, then waits.
      expect(whole.runningTokens).toBeLessThanOrEqual(1);
      expect(whole.batcher.promptChunks).toBe(0);
      // After: one decode per step, each the running stream's next token plus at most 15 prompt tokens.
      const steps = Math.ceil(chunked.prompt / 15);
      expect(chunked.batcher.promptChunks).toBeGreaterThanOrEqual(steps - 1);
      expect(chunked.runningTokens).toBeGreaterThanOrEqual(steps - 2);
      expect(Math.max(...chunked.decodedTokens)).toBeLessThanOrEqual(16);
      expect(chunked.decodes.every((n) => n === 2)).toBe(true);
      expect(chunked.decodes.length).toBe(chunked.batcher.steps);
      // The long prompt's answer is the one it gets alone.
      expect(chunked.answer).toBe(whole.answer);
    } finally {
      l.batcher.dispose();
      await l.context.dispose();
      await l.model.dispose();
    }
  });

  it('a prompt read in pieces gets the answer it gets in one piece', async () => {
    const l = await load('tiny-random', 1, 16);
    try {
      const p = prompt(l.model, chat('the quick brown fox jumps over the lazy dog '.repeat(6)));
      expect(p.tokens.length).toBeGreaterThan(100);
      const answer = async (batcher: LockstepBatcher) => {
        const sequence = l.context.getSequence();
        try {
          return (await batcher.generate(sequence, p.tokens, { maxTokens: 30 })).text;
        } finally {
          await sequence.dispose();
        }
      };
      const whole = await answer(new LockstepBatcher(l.context, { prefillChunk: false }));
      const before = l.batcher.stats.promptChunks;
      expect(await answer(l.batcher)).toBe(whole);
      expect(l.batcher.stats.promptChunks - before).toBeGreaterThanOrEqual(Math.floor(p.tokens.length / 16));
    } finally {
      l.batcher.dispose();
      await l.context.dispose();
      await l.model.dispose();
    }
  });

  it('refuses a prefill chunk that is not a positive integer', () => {
    for (const prefillChunk of [0, -1, 1.5]) {
      expect(() => new LockstepBatcher(models.chat.context, { prefillChunk })).toThrow(RangeError);
    }
  });

  it('detokenizes incrementally without splitting a multi-byte character', () => {
    const { model } = models.chat;
    const filter = new OutputFilter(model);
    const tokens = model.tokenize('é€😀 ok');
    expect(tokens.length).toBeGreaterThan(6); // byte-fallback tokens
    const chunks = tokens.map((t) => filter.push(t));
    expect(chunks.join('') + filter.flush()).toBe('é€😀 ok');
    for (const chunk of chunks) expect(chunk).not.toContain('\uFFFD');
  });

  it('drops hidden segments and holds back the start of a stop', () => {
    const { model } = models.chat;
    const filter = new OutputFilter(model, { stops: ['STOP'], hidden: [{ prefix: '<think>', suffix: '</think>' }] });
    const tokens = model.tokenize('a<think>secret</think>b STOP and more');
    const full = model.detokenize(tokens);
    const expected =
      full.slice(0, full.indexOf('<think>')) + full.slice(full.indexOf('</think>') + 8, full.indexOf('STOP'));
    let out = '';
    for (const token of tokens) {
      out += filter.push(token);
      expect(out).not.toMatch(/secret|S$|ST$|STO$/);
    }
    expect(out).toBe(expected);
    expect(filter.stopped).toBe('stop');
    expect(filter.text).toBe(expected);
    expect(filter.flush()).toBe('');
  });
});

describe('LlmEngine on the lock-step batcher', () => {
  const engine = tinyEngine();
  afterAll(() => engine.dispose());

  async function answer(request: Parameters<LlmEngine['chat']>[0], sessionId: string) {
    let text = '';
    let done: unknown;
    for await (const e of await engine.chat(request, { sessionId })) {
      if (e.type === 'text') text += e.text;
      if (e.type === 'done') done = e;
    }
    return { text, done };
  }

  it('takes plain requests that fit; response_format and what does not fit go through LlamaChat', async () => {
    const generate = vi.spyOn(LockstepBatcher.prototype, 'generate');
    try {
      const messages: ChatMessage[] = [{ role: 'user', content: 'hi' }];
      const plain = await answer({ model: 'tiny-chat', messages, temperature: 0 }, 'a');
      expect(plain).toMatchObject({ text: SCRIPTED_ANSWER, done: { finishReason: 'stop' } });
      expect(plain.done).toMatchObject({ usage: { completion_tokens: 3 } });
      expect(generate).toHaveBeenCalledTimes(1);

      // tiny-chat's context is 512 tokens: 600 more do not fit, LlamaChat (which shifts the context) answers.
      const long = await answer({ model: 'tiny-chat', messages, temperature: 0, maxTokens: 600 }, 'a');
      expect(long.text).toBe(SCRIPTED_ANSWER);
      const json = await answer(
        { model: 'tiny-chat', messages, temperature: 0, maxTokens: 5, responseFormat: { type: 'json_object' } },
        'b',
      );
      expect(json.done).toMatchObject({ finishReason: expect.any(String) });
      expect(generate).toHaveBeenCalledTimes(1);

      const limited = await answer({ model: 'tiny-loop', messages, temperature: 0, maxTokens: 4 }, 'c');
      expect(limited).toMatchObject({ text: 'one two three four', done: { finishReason: 'length' } });
      expect(generate).toHaveBeenCalledTimes(2);
    } finally {
      generate.mockRestore();
    }
  });
});
