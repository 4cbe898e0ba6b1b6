import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import { buildTinyLlama } from '../../test/fixtures/tiny-llama.ts';
import { modelFiles } from '../models/model-files.ts';
import { LlmEngine } from './llm-engine.ts';

describe('LlmEngine.embed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgerunner-embed-engine-'));
  let engine: LlmEngine;
  const make = (keepAliveMs: number) =>
    new LlmEngine({
      models: { 'tiny-embed': { kind: 'embedding', source: join(dir, 'tiny-embed.gguf'), contextSize: 64 } },
      files: modelFiles({ modelsDir: dir }),
      threads: 1,
      keepAliveMs,
    });
  beforeAll(() => {
    writeFileSync(join(dir, 'tiny-embed.gguf'), buildTinyLlama({ seed: 3 }));
    engine = make(-1);
  });
  afterAll(async () => {
    await engine.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an input longer than the context is a 400 naming the input and its token count, before any work', async () => {
    const err = await engine.embed('tiny-embed', ['short', 'word '.repeat(200)]).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).status).toBe(400);
    expect((err as AppError).param).toBe('input[1]');
    expect((err as AppError).message).toMatch(/^input\[1\]: \d{3} tokens, more than the 63 that tiny-embed can embed/);
    // One that just fits is embedded.
    const { vectors } = await engine.embed('tiny-embed', ['word '.repeat(20)]);
    expect(vectors).toHaveLength(1);
  });

  it('embeds token ids, and refuses ids outside the vocabulary naming the input and the position', async () => {
    const a = await engine.embed('tiny-embed', [
      [1, 2, 3],
      [1, 2, 3],
      [3, 2, 1],
    ]);
    expect(a.tokens).toBe(9);
    expect(a.vectors[0]).toEqual(a.vectors[1]);
    expect(a.vectors[0]).not.toEqual(a.vectors[2]);
    const err = await engine.embed('tiny-embed', [[1, 2, 10_000_000]]).catch((x: unknown) => x);
    expect((err as AppError).status).toBe(400);
    expect((err as AppError).message).toMatch(/^input\[0\]\[2\]: token id 10000000 is not in tiny-embed's vocabulary/);
  });

  it('an embedding in flight keeps its model loaded: idle unload waits until it is done', async () => {
    const e = make(1);
    const inputs = Array.from({ length: 300 }, (_, i) => `input number ${i}`);
    let loaded = false;
    let unloadedMidway = false;
    const watch = setInterval(() => {
      if (e.isLoaded('tiny-embed')) loaded = true;
      else if (loaded) unloadedMidway = true;
    }, 0);
    const running = e.embed('tiny-embed', inputs);
    expect(e.busy).toBe(1);
    const { vectors } = await running;
    clearInterval(watch);
    expect(unloadedMidway).toBe(false);
    expect(e.busy).toBe(0);
    expect(vectors).toHaveLength(300);
    expect(new Set(vectors.map((v) => v.length))).toEqual(new Set([64]));
    await expect.poll(() => e.isLoaded('tiny-embed'), { timeout: 5_000, interval: 10 }).toBe(false);
    await e.dispose();
  });
});
