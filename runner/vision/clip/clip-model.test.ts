import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIP_FILES, TINY_CLIP_COLOURS, writeTinyClip } from '../../../test/fixtures/tiny-clip.ts';
import { ClipModel, type ClipFiles } from './clip-model.ts';

const dir = mkdtempSync(join(tmpdir(), 'edgerunner-clip-'));
let clip: ClipModel;

/** A solid image of one colour, with a darker border (so the centre crop matters). */
function solid([r, g, b]: [number, number, number], width = 320, height = 240) {
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) data.set([r, g, b], p * 3);
  return { data, width, height };
}

beforeAll(async () => {
  writeTinyClip(dir);
  const files = Object.fromEntries(Object.entries(CLIP_FILES).map(([role, file]) => [role, join(dir, file)]));
  clip = await ClipModel.create(files as unknown as ClipFiles, { threads: 1 });
});
afterAll(async () => {
  await clip?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('ClipModel (tiny generated CLIP)', () => {
  it('gives the label naming the image colour the highest probability; probabilities sum to 1, sorted', async () => {
    for (const colour of ['red', 'green', 'blue'] as const) {
      const scores = await clip.classify(solid(TINY_CLIP_COLOURS[colour]!), [
        'a photo of red',
        'a photo of green',
        'a photo of blue',
      ]);
      expect(scores[0]!.label).toBe(`a photo of ${colour}`);
      expect(scores[0]!.probability).toBeGreaterThan(0.9); // the logit scale (100) makes it sharp
      expect(scores.reduce((a, s) => a + s.probability, 0)).toBeCloseTo(1, 6);
      expect(scores.map((s) => s.probability)).toEqual([...scores.map((s) => s.probability)].sort((a, b) => b - a));
    }
  });

  it('encodes each label once: later calls reuse the cached embeddings', async () => {
    const before = clip.cachedLabels;
    await clip.classify(solid([255, 0, 0]), ['red cat', 'blue bird']);
    expect(clip.cachedLabels).toBe(before + 2);
    const scores = await clip.classify(solid([0, 0, 255]), ['blue bird', 'red cat', 'blue bird']);
    expect(clip.cachedLabels).toBe(before + 2);
    expect(scores.map((s) => s.label)).toHaveLength(3);
    expect(scores[0]!.label).toBe('blue bird');
  });

  it('a label of unknown words only gets an even share, not an error', async () => {
    const scores = await clip.classify(solid([255, 0, 0]), ['zebra', 'unicorn']);
    expect(scores[0]!.probability).toBeCloseTo(0.5, 6);
  });
});
