import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { env, pipeline, RawImage } from '@huggingface/transformers';
import sharp from 'sharp';
import { decodeImage } from '../../runner/vision/image-decode.ts';
import { ClipModel, type ClipFiles } from '../../runner/vision/clip/clip-model.ts';
import { CLIP_FILES, TINY_CLIP_COLOURS, writeTinyClip } from '../../test/fixtures/tiny-clip.ts';
import { median } from './exec-report.ts';

export interface ClipBench {
  images: number;
  labels: number;
  oursMs: number;
  transformersMs: number;
  /** Images where both gave the same best label. */
  agree: number;
}

const LABELS = [
  ...Object.keys(TINY_CLIP_COLOURS).map((c) => `a photo of ${c}`),
  'a photo of a cat',
  'a photo of a dog',
  'a picture of a bird',
  'the colour of the photo',
  'an photo',
];

/**
 * CLIP labelling of the same PNG images (640×480, a colour each, with noise) with the same 10 labels: our
 * `ClipModel` (labels encoded once, then cached; our preprocessing) against transformers.js's
 * `zero-shot-image-classification` pipeline (which encodes the labels again for every image), both on the tiny
 * generated CLIP (the joint model for the pipeline, the two towers for us) and both decoding the PNG themselves.
 * With a tiny model the models cost almost nothing: this measures everything around them.
 */
export async function measureClip({
  images = 12,
  rounds = 2,
}: { images?: number; rounds?: number } = {}): Promise<ClipBench> {
  const root = mkdtempSync(join(tmpdir(), 'edgerunner-bench-clip-'));
  const dir = join(root, 'bench', 'tiny-clip');
  writeTinyClip(dir);
  const colours = Object.values(TINY_CLIP_COLOURS);
  const pngs = await Promise.all(
    Array.from({ length: images }, async (_, i) => {
      const [r, g, b] = colours[i % colours.length]!;
      const noise = Buffer.alloc(640 * 480 * 3);
      for (let p = 0; p < noise.length; p += 3) {
        const n = ((p * 2654435761) >>> 24) % 32;
        noise[p] = Math.max(0, Math.min(255, r - 16 + n));
        noise[p + 1] = Math.max(0, Math.min(255, g - 16 + n));
        noise[p + 2] = Math.max(0, Math.min(255, b - 16 + n));
      }
      return sharp(noise, { raw: { width: 640, height: 480, channels: 3 } })
        .png()
        .toBuffer();
    }),
  );
  const files = Object.fromEntries(Object.entries(CLIP_FILES).map(([role, file]) => [role, join(dir, file)]));
  const ours = await ClipModel.create(files as unknown as ClipFiles);
  env.allowRemoteModels = false;
  env.localModelPath = `${root}/`;
  const classify = await pipeline('zero-shot-image-classification', 'bench/tiny-clip', { dtype: 'fp32' });
  try {
    const oursMs: number[] = [];
    const theirsMs: number[] = [];
    let agree = 0;
    await ours.classify(await decodeImage(pngs[0]!), LABELS);
    await classify(await RawImage.fromBlob(new Blob([pngs[0]!])), LABELS);
    for (let round = 0; round < rounds; round++) {
      for (const png of pngs) {
        let start = performance.now();
        const mine = await ours.classify(await decodeImage(png), LABELS);
        oursMs.push(performance.now() - start);
        start = performance.now();
        const theirs = (await classify(await RawImage.fromBlob(new Blob([png])), LABELS)) as { label: string }[];
        theirsMs.push(performance.now() - start);
        if (round === 0 && mine[0]!.label === theirs[0]!.label) agree++;
      }
    }
    return { images, labels: LABELS.length, oursMs: median(oursMs), transformersMs: median(theirsMs), agree };
  } finally {
    await ours.dispose();
    await classify.dispose();
    rmSync(root, { recursive: true, force: true });
  }
}
