import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import type { CatalogEntry } from '../../shared/schemas/catalog.ts';
import { buildTinyLlama } from '../../test/fixtures/tiny-llama.ts';
import { TINY_CATALOG } from '../../test/helpers/tiny-models.ts';
import { modelFiles } from '../models/model-files.ts';
import { LlmEngine, type LlmEngineOptions } from './llm-engine.ts';

const MB = 1024 * 1024;

/** Resident kB of the mappings of `path` in this process (/proc/self/smaps). */
function residentKbOf(path: string): number {
  let inside = false;
  let kb = 0;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inside = line.endsWith(path);
    else if (inside && line.startsWith('Rss:')) kb += Number(line.split(/\s+/)[1]);
  }
  return kb;
}

function engine(options: Partial<LlmEngineOptions> = {}, models: Record<string, CatalogEntry> = TINY_CATALOG.models) {
  return new LlmEngine({
    models,
    files: modelFiles({ modelsDir: tmpdir() }),
    threads: 1,
    parallel: 1,
    keepAliveMs: -1,
    ...options,
  });
}

async function drain(events: AsyncIterable<unknown>) {
  for await (const _ of events) void _;
}

const ask = (model: string, maxTokens = 4) => ({
  model,
  messages: [{ role: 'user' as const, content: 'hi' }],
  maxTokens,
  temperature: 0,
});

describe('LlmEngine: memory, idle unload, queueing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgerunner-engine-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('unloading really frees the model’s memory: its weights leave the address space', async () => {
    const path = join(dir, 'big.gguf');
    writeFileSync(
      path,
      buildTinyLlama({ embeddingLength: 512, blockCount: 8, feedForwardLength: 2048, weights: 'scripted' }),
    );
    const e = engine({}, { big: { kind: 'llm', source: path, contextSize: 512 } });
    await drain(await e.chat(ask('big'), { sessionId: 's' }));
    expect(residentKbOf(path)).toBeGreaterThan(50 * 1024);
    expect(await e.unload('big')).toBe(true);
    expect(residentKbOf(path)).toBe(0);
  });

  it('unloads a model left idle for MODEL_KEEP_ALIVE', async () => {
    const e = engine({ keepAliveMs: 50 });
    await drain(await e.chat(ask('tiny-chat'), { sessionId: 's' }));
    expect(e.isLoaded('tiny-chat')).toBe(true);
    await expect.poll(() => e.isLoaded('tiny-chat'), { timeout: 5_000, interval: 25 }).toBe(false);
  });

  it('evicts the least recently used idle model when memory would not fit, else refuses with 507', async () => {
    // Room for two tiny models (node-llama-cpp estimates ~70 MB for tiny-chat, ~150 MB for the 8k-context ones); each loaded one takes 200 MB of it.
    const per = 200 * MB;
    const e: LlmEngine = engine({ availableMemory: () => 2 * per + 1 - e.loadedNames.length * per });
    const load = (name: string) => drain(e.load(name));
    await load('tiny-chat');
    await load('tiny-random');
    await drain(await e.chat(ask('tiny-random'), { sessionId: 's' }));
    await load('tiny-loop');
    expect(e.loadedNames.sort()).toEqual(['tiny-loop', 'tiny-random']);

    const tight = engine({ availableMemory: () => 10 * MB });
    const err = await drain(tight.load('tiny-chat')).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).status).toBe(507);
    expect((err as AppError).message).toMatch(/Not enough memory to load tiny-chat: needs ~[\d.]+ GB/);
    await Promise.all([e.dispose(), tight.dispose()]);
  });

  it('counts the KV cache of every sequence, and loads a smaller context when the catalog’s does not fit', async () => {
    // tiny-loop: ~150 MB with 8192 tokens × 1 sequence; ~440 MB × 4 sequences.
    const four = engine({ parallel: 4, availableMemory: () => 300 * MB });
    await drain(four.load('tiny-loop')); // falls back to a smaller context
    const done = await (async () => {
      let last: { finishReason: string; usage: { total_tokens: number } } | undefined;
      const events = await four.chat({ ...ask('tiny-loop'), maxTokens: undefined }, { sessionId: 's' });
      for await (const ev of events as AsyncIterable<{ type: string }>) if (ev.type === 'done') last = ev as never;
      return last!;
    })();
    expect(done.finishReason).toBe('length');
    expect(done.usage.total_tokens).toBeLessThanOrEqual(4096);
    const none = engine({ parallel: 4, availableMemory: () => 40 * MB });
    const err = await drain(none.load('tiny-loop')).catch((x: unknown) => x);
    expect((err as AppError).status).toBe(507);
    expect((err as AppError).message).toMatch(/with a context of 8192 tokens × 4 sequences, ~[\d.]+ GB even with 512/);
    await Promise.all([four.dispose(), none.dispose()]);
  });

  it('queues requests beyond the sequences, then answers 429 with Retry-After', async () => {
    const e = engine({ parallel: 1, maxQueue: 1 });
    const running = await e.chat(ask('tiny-loop', 4000), { sessionId: 'a' });
    const waiting = e.chat(ask('tiny-loop', 2), { sessionId: 'b' });
    const refused = await e.chat(ask('tiny-loop', 2), { sessionId: 'c' }).catch((x: unknown) => x);
    expect((refused as AppError).status).toBe(429);
    expect((refused as AppError).headers['Retry-After']).toBe('1');
    expect(e.stop('a')).toBe(true);
    await drain(running);
    await drain(await waiting);
    await e.dispose();
  });
});

describe('LlmEngine: unloading and work in flight', () => {
  it('an unload during a generation ends it with 503, fails the queued request, and leaves nothing busy', async () => {
    for (const maxTokens of [4000, undefined]) {
      const e = engine({ parallel: 1 });
      // A plain request runs on the lock-step batcher; a JSON one through LlamaChat.
      const running = await e.chat(
        { ...ask('tiny-loop', maxTokens ?? 4000), responseFormat: maxTokens ? undefined : { type: 'json_object' } },
        { sessionId: 'a' },
      );
      const queued = e.chat(ask('tiny-loop', 2), { sessionId: 'b' }).catch((x: unknown) => x);
      const seen: unknown[] = [];
      const streamed = (async () => {
        for await (const ev of running) seen.push(ev);
      })().catch((x: unknown) => x);
      await expect.poll(() => seen.length, { timeout: 5_000, interval: 5 }).toBeGreaterThan(0);
      expect(e.busy).toBe(1);
      expect(await e.unload('tiny-loop')).toBe(true);
      expect(((await streamed) as AppError).status).toBe(503);
      expect(((await queued) as AppError).status).toBe(503);
      expect(e.busy).toBe(0);
      await e.dispose();
    }
  });
});

describe('LlmEngine: generated tokens are bounded without max_tokens', () => {
  const usage = async (events: AsyncIterable<unknown>) => {
    let done: { finishReason: string; usage: { completion_tokens: number; total_tokens: number } } | undefined;
    for await (const ev of events as AsyncIterable<{ type: string }>) if (ev.type === 'done') done = ev as never;
    return done!;
  };
  const endless = { ...ask('tiny-loop'), maxTokens: undefined };

  it('stops at the room the prompt leaves in the context, on the batcher and through LlamaChat', async () => {
    // (node-llama-cpp rounds a context up to a multiple of 256.)
    const small = { 'tiny-loop': { ...TINY_CATALOG.models['tiny-loop']!, contextSize: 256 } };
    const e = engine({}, small);
    for (const responseFormat of [undefined, { type: 'json_object' as const }]) {
      const done = await usage(await e.chat({ ...endless, responseFormat }, { sessionId: `s-${!!responseFormat}` }));
      expect(done.finishReason).toBe('length');
      expect(done.usage.total_tokens).toBeLessThanOrEqual(256);
      expect(done.usage.completion_tokens).toBeGreaterThan(0);
    }
    await e.dispose();
  });

  it('stops at LLM_MAX_TOKENS, also when max_tokens asks for more', async () => {
    const e = engine({ maxTokens: 7 });
    for (const request of [
      endless,
      ask('tiny-loop', 500),
      { ...endless, responseFormat: { type: 'json_object' as const } },
    ]) {
      const done = await usage(await e.chat(request, { sessionId: 's' }));
      expect(done.finishReason).toBe('length');
      expect(done.usage.completion_tokens).toBeGreaterThan(0);
      expect(done.usage.completion_tokens).toBeLessThanOrEqual(7);
    }
    await e.dispose();
  });
});
