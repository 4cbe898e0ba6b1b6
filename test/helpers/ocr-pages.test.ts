import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { characterErrorRate, ocrPageSet, renderPage, type OcrPage, type PageSpec } from './ocr-pages.ts';

/** The darkest value of any channel in a region: near 255 where nothing is printed. */
async function darkest(page: OcrPage, region: { left: number; top: number; width: number; height: number }) {
  const pixels = await sharp(page.png).extract(region).raw().toBuffer();
  return pixels.reduce((min, value) => Math.min(min, value), 255);
}

describe('ocrPageSet', () => {
  let pages: OcrPage[];
  beforeAll(async () => {
    pages = await ocrPageSet();
  });

  it('gives 6 clean and 6 photo pages, each 5–25 lines of 3–9 words', () => {
    expect(pages.filter((p) => p.kind === 'clean')).toHaveLength(6);
    expect(pages.filter((p) => p.kind === 'photo')).toHaveLength(6);
    expect(new Set(pages.map((p) => p.name)).size).toBe(12);
    for (const page of pages) {
      expect(page.lines.length).toBeGreaterThanOrEqual(5);
      expect(page.lines.length).toBeLessThanOrEqual(25);
      for (const line of page.lines) {
        // "No. 12" is one number printed with a space.
        const words = line.replaceAll('No. ', 'No.').split(' ');
        expect(words.length).toBeGreaterThanOrEqual(3);
        expect(words.length).toBeLessThanOrEqual(9);
      }
    }
  });

  it('reports the PNG’s own dimensions, ~1000–1600 px wide before rotation', async () => {
    for (const page of pages) {
      const meta = await sharp(page.png).metadata();
      expect(meta.format).toBe('png');
      expect([meta.width, meta.height]).toEqual([page.width, page.height]);
      expect(page.width).toBeGreaterThanOrEqual(1000);
      expect(page.width).toBeLessThanOrEqual(page.kind === 'clean' ? 1600 : 1800);
    }
  });

  it('has a two-column page of each kind, the left column first in its lines', async () => {
    const twoColumn = pages.filter((p) => p.columns === 2);
    expect(twoColumn.map((p) => p.kind).sort()).toEqual(['clean', 'photo']);
    const clean = twoColumn.find((p) => p.kind === 'clean')!;
    expect(clean.lines.length % 2).toBe(0);
    // The gutter (the middle of the page) is blank from top to bottom; both halves have text.
    const middle = { left: Math.round(clean.width / 2) - 15, width: 30, top: 0, height: clean.height };
    expect(await darkest(clean, middle)).toBeGreaterThan(200);
    const half = { width: Math.round(clean.width / 2) - 20, top: 0, height: clean.height };
    expect(await darkest(clean, { ...half, left: 0 })).toBeLessThan(100);
    expect(await darkest(clean, { ...half, left: clean.width - half.width })).toBeLessThan(100);
  });

  it('keeps the text inside the margins of clean pages', async () => {
    for (const page of pages.filter((p) => p.kind === 'clean')) {
      expect(await darkest(page, { left: page.width - 40, width: 40, top: 0, height: page.height })).toBeGreaterThan(
        200,
      );
      expect(await darkest(page, { left: 0, width: page.width, top: page.height - 30, height: 30 })).toBeGreaterThan(
        200,
      );
    }
  });

  it('is deterministic: the same seed gives the same bytes (a smaller set its first pages), another seed others', async () => {
    const again = await ocrPageSet({ count: 4 });
    const firstTwoOfEach = [pages[0]!, pages[1]!, pages[6]!, pages[7]!];
    expect(again.map((p) => p.name)).toEqual(firstTwoOfEach.map((p) => p.name));
    again.forEach((page, i) => expect(page.png.equals(firstTwoOfEach[i]!.png)).toBe(true));
    const other = await ocrPageSet({ count: 4, seed: 2 });
    expect(other.map((p) => p.lines)).not.toEqual(again.map((p) => p.lines));
  });
});

describe('renderPage', () => {
  const spec: PageSpec = {
    name: 'p',
    kind: 'photo',
    seed: 42,
    font: 'Liberation Serif',
    fontSize: 20,
    width: 1000,
    lineCount: 5,
  };

  it('renders the same spec to identical PNG bytes, photo degradations included', async () => {
    const [a, b] = await Promise.all([renderPage(spec), renderPage(spec)]);
    expect(a.png.equals(b.png)).toBe(true);
    expect(a.lines).toEqual(b.lines);
    expect(a.columns).toBeUndefined();
  });

  it('prints the same text on a clean and a photo page of one seed', async () => {
    const [photo, clean] = await Promise.all([renderPage(spec), renderPage({ ...spec, kind: 'clean' })]);
    expect(clean.lines).toEqual(photo.lines);
    expect(clean.png.equals(photo.png)).toBe(false);
    expect(photo.width).toBeGreaterThan(clean.width);
  });
});

describe('characterErrorRate', () => {
  it('is 0 for identical text', () => {
    expect(characterErrorRate('The river bridge.', 'The river bridge.')).toBe(0);
  });

  it('is edits over the expected length: one substitution in 10 characters is 0.1', () => {
    expect(characterErrorRate('abcdefghij', 'abcdefgxij')).toBeCloseTo(0.1, 10);
    expect(characterErrorRate('abcdefghij', '')).toBe(1);
  });

  it('collapses whitespace runs and line breaks to one space and trims', () => {
    expect(characterErrorRate('one two\nthree', '  one   two three \n')).toBe(0);
    expect(characterErrorRate('one\n\ntwo', 'one two')).toBe(0);
    expect(characterErrorRate('ab cd', 'abcd')).toBeCloseTo(1 / 5, 10);
  });
});
