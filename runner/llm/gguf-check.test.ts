import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import { gguf, writeGguf } from '../../test/fixtures/gguf-writer.ts';
import { buildTinyLlama } from '../../test/fixtures/tiny-llama.ts';
import { modelFiles } from '../models/model-files.ts';
import { checkGguf } from './gguf-check.ts';
import { LlmEngine } from './llm-engine.ts';

describe('GGUF files are checked before llama.cpp sees them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgerunner-gguf-check-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, bytes: Uint8Array) => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };
  const noFfn = file(
    'no-ffn.gguf',
    writeGguf({
      metadata: {
        'general.architecture': gguf.string('llama'),
        'llama.context_length': gguf.uint32(512),
        'llama.embedding_length': gguf.uint32(64),
        'llama.block_count': gguf.uint32(1),
        'llama.attention.head_count': gguf.uint32(4),
      },
    }),
  );
  const notGguf = file('text.gguf', new TextEncoder().encode('not a model at all'));
  const good = file('good.gguf', buildTinyLlama());

  it('accepts a complete file and names what a broken one lacks', async () => {
    await expect(checkGguf(good, 'good')).resolves.toBeUndefined();
    const err = await checkGguf(noFfn, 'broken').catch((e: unknown) => e);
    expect((err as AppError).status).toBe(422);
    expect((err as AppError).message).toContain('llama.feed_forward_length');
    expect(((await checkGguf(notGguf, 'text').catch((e: unknown) => e)) as AppError).status).toBe(422);
  });

  it('a load of a broken file fails with an error event instead of aborting the process', async () => {
    const engine = new LlmEngine({
      models: { broken: { kind: 'llm', source: noFfn }, good: { kind: 'llm', source: good } },
      files: modelFiles({ modelsDir: dir }),
      threads: 1,
      parallel: 1,
      keepAliveMs: -1,
    });
    const failed = await (async () => {
      for await (const _ of engine.load('broken')) void _;
    })().catch((e: unknown) => e);
    expect((failed as AppError).status).toBe(422);
    for await (const _ of engine.load('good')) void _;
    expect(engine.isLoaded('good')).toBe(true);
    await engine.dispose();
  });
});
