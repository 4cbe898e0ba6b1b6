import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyLlama } from '../../test/fixtures/tiny-llama.ts';
import { localTestInference, testApp, TINY_CATALOG } from '../../test/helpers/test-app.ts';

describe('POST /v1/embeddings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgerunner-embed-'));
  let t: Awaited<ReturnType<typeof testApp>>;
  beforeAll(async () => {
    const source = join(dir, 'tiny-embed.gguf');
    writeFileSync(source, buildTinyLlama({ seed: 3 }));
    const catalog = { models: { ...TINY_CATALOG.models, 'tiny-embed': { kind: 'embedding' as const, source } } };
    t = await testApp({ inference: localTestInference('embedded', catalog) });
  });
  afterAll(() => {
    t.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const embed = (body: unknown) =>
    t.app.request('/v1/embeddings', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('embeds a string and a batch in OpenAI’s shape, deterministically', async () => {
    const res = await embed({ model: 'tiny-embed', input: ['the cat sat', 'a dog ran', 'the cat sat'] });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ object: 'list', model: 'tiny-embed', usage: { prompt_tokens: expect.any(Number) } });
    expect(body.usage.prompt_tokens).toBeGreaterThan(3);
    const [a, b, c] = body.data.map((d: { embedding: number[] }) => d.embedding);
    expect(body.data.map((d: { index: number }) => d.index)).toEqual([0, 1, 2]);
    expect(a.length).toBe(64);
    expect(a).toEqual(c);
    expect(a).not.toEqual(b);
    const single = await (await embed({ model: 'tiny-embed', input: 'the cat sat' })).json();
    expect(single.data[0].embedding).toEqual(a);
  });

  it('takes token-id inputs (what LangChain’s OpenAI embeddings send): one array, or an array of arrays', async () => {
    const batch = await embed({
      model: 'tiny-embed',
      input: [
        [5, 6, 7],
        [8, 9],
      ],
    });
    expect(batch.status).toBe(200);
    const body = await batch.json();
    expect(body.data.map((d: { index: number }) => d.index)).toEqual([0, 1]);
    expect(body.usage.prompt_tokens).toBe(5);
    const single = await (await embed({ model: 'tiny-embed', input: [5, 6, 7] })).json();
    expect(single.data).toHaveLength(1);
    expect(single.data[0].embedding).toEqual(body.data[0].embedding);
  });

  it('truncates to `dimensions` (unit length) and encodes base64 float32', async () => {
    const body = await (
      await embed({ model: 'tiny-embed', input: 'hello', dimensions: 8, encoding_format: 'base64' })
    ).json();
    const bytes = Uint8Array.from(atob(body.data[0].embedding), (ch) => ch.charCodeAt(0));
    const vector = new Float32Array(bytes.buffer);
    expect(vector.length).toBe(8);
    expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
  });

  it('refuses chat models, unknown models and bad input with the field named', async () => {
    expect((await embed({ model: 'tiny-chat', input: 'x' })).status).toBe(400);
    expect((await embed({ model: 'nope', input: 'x' })).status).toBe(404);
    const bad = await embed({ model: 'tiny-embed', input: [] });
    expect((await bad.json()).error.param).toBe('input');
    const wide = await embed({ model: 'tiny-embed', input: 'x', dimensions: 4096 });
    expect((await wide.json()).error.param).toBe('dimensions');
  });
});
