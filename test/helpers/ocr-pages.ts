import { mulberry32 } from '../../shared/mulberry32.ts';
import { distance } from 'fastest-levenshtein';
import sharp, { type Sharp } from 'sharp';

/** A rendered test page for OCR and what it says. */
export interface OcrPage {
  name: string;
  /** `clean`: a plain render; `photo`: the same kind of page rotated, blurred, noisy, unevenly lit, JPEG'd. */
  kind: 'clean' | 'photo';
  png: Buffer;
  /** Of `png` (a photo page is a little larger than its text page: rotation widens the canvas). */
  width: number;
  height: number;
  /** The ground truth in reading order: on a two-column page the whole left column, then the right one. */
  lines: string[];
  /** 2 on a two-column page; absent on a single column. */
  columns?: number;
}

/** The fonts pages are set in (all installed system fonts, rendered by sharp's librsvg). */
export const OCR_FONTS = ['DejaVu Sans', 'DejaVu Serif', 'DejaVu Sans Mono', 'Liberation Sans', 'Liberation Serif'];

/** Everything that decides one page; the same spec renders the same PNG bytes. */
export interface PageSpec {
  name: string;
  kind: 'clean' | 'photo';
  /** Seeds the text, the colours and, on a photo page, every degradation. */
  seed: number;
  /** One of OCR_FONTS (any installed family works). */
  font: string;
  /** Pixels, 16–40 in the generated sets. */
  fontSize: number;
  /** Of the text page, before any rotation. */
  width: number;
  /** Lines in each column. */
  lineCount: number;
  /** 2 sets the text in two columns with a clear gutter; default 1. */
  columns?: 1 | 2;
}

/** A seeded PRNG: floats in [0, 1). */
const prng = mulberry32;

type Random = ReturnType<typeof prng>;
const between = (random: Random, lo: number, hi: number) => lo + random() * (hi - lo);
const integer = (random: Random, lo: number, hi: number) => Math.floor(between(random, lo, hi + 1));
const pick = <T>(random: Random, xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

const WORDS = (
  'the of and to in is was for on with as by at from that this which are were be been have has had not but ' +
  'or an all one two three more most some many each other into over after under between through during ' +
  'river market window garden station letter morning evening paper number table report figure system ' +
  'water light stone bridge engine village harbour winter summer orchard kitchen library ledger copper ' +
  'signal machine pattern measure question answer reading printed quietly slowly careful narrow bright ' +
  'heavy simple common early later second final total nearly almost rather often seldom always north ' +
  'south eastern western central public private local annual weekly daily green yellow silver wooden ' +
  "it's don't we'll o'clock well-known long-term self-made up-to-date x-ray " +
  'London Paris March Monday October Thomas Margaret Oxford Atlantic Victoria Edison Chapter Table Section'
).split(' ');

/** A number as printed text: a year, a count, a decimal, a time, a price or a reference. */
function numberWord(random: Random): string {
  switch (integer(random, 0, 5)) {
    case 0:
      return String(integer(random, 1850, 2030));
    case 1:
      return String(integer(random, 2, 999));
    case 2:
      return `${integer(random, 0, 99)}.${integer(random, 0, 9)}`;
    case 3:
      return `${integer(random, 1, 12)}:${String(integer(random, 0, 59)).padStart(2, '0')}`;
    case 4:
      return `${integer(random, 1, 40)}-${integer(random, 41, 99)}`;
    default:
      return `No. ${integer(random, 1, 60)}`;
  }
}

/** One word, sometimes a number, sometimes capitalised, bracketed or followed by punctuation. */
function word(random: Random, last: boolean): string {
  let w = random() < 0.12 ? numberWord(random) : pick(random, WORDS);
  if (random() < 0.12) w = w[0]!.toUpperCase() + w.slice(1);
  if (random() < 0.05) return `(${w})`;
  const mark = random();
  if (last) return mark < 0.5 ? `${w}.` : mark < 0.6 ? `${w}:` : w;
  return mark < 0.1 ? `${w},` : mark < 0.13 ? `${w}:` : mark < 0.16 ? `${w};` : mark < 0.19 ? `${w}.` : w;
}

/** A line of 3–9 words that fits in `maxChars`, starting with a capital (unless it opens with a bracket). */
function textLine(random: Random, maxChars: number): string {
  const target = integer(random, 3, 9);
  const words: string[] = [];
  for (let tries = 0; words.length < target && tries < 40; tries++) {
    const w = word(random, words.length === target - 1);
    const length = words.join(' ').length + (words.length ? 1 : 0) + w.length;
    if (length <= maxChars) words.push(w);
    else if (words.length >= 3) break;
  }
  if (words.length < 3) throw new Error(`a column of ${maxChars} characters is too narrow for a line of 3 words`);
  const first = words[0]!;
  words[0] = first[0] === '(' ? first : first[0]!.toUpperCase() + first.slice(1);
  return words.join(' ');
}

const escapeXml = (text: string) =>
  text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);

/** Widest glyph advance relative to the font size that a line's length budget assumes (caps, digits, mono). */
const CHAR_WIDTH_EM = 0.66;

/** The page as SVG and its lines; geometry: margins of 3 em (≥ 60 px), a gutter of 4 em (≥ 90 px). */
function pageSvg(spec: PageSpec, random: Random): { svg: string; lines: string[]; paper: string } {
  const columns = spec.columns ?? 1;
  const margin = Math.max(60, 3 * spec.fontSize);
  const gutter = Math.max(90, 4 * spec.fontSize);
  const columnWidth = (spec.width - 2 * margin - (columns - 1) * gutter) / columns;
  const maxChars = Math.floor(columnWidth / (CHAR_WIDTH_EM * spec.fontSize));
  const lineHeight = Math.round(spec.fontSize * between(random, 1.45, 1.8));
  const height = 2 * margin + spec.lineCount * lineHeight;
  const ink = pick(random, ['#000000', '#111111', '#1e1e1e', '#2a2a2a', '#333333']);
  const paper = pick(random, ['#ffffff', '#fdfcf8', '#faf9f4', '#f7f7f2']);
  const lines: string[] = [];
  const texts: string[] = [];
  for (let column = 0; column < columns; column++) {
    const x = margin + column * (columnWidth + gutter);
    for (let row = 0; row < spec.lineCount; row++) {
      const line = textLine(random, maxChars);
      lines.push(line);
      const y = margin + row * lineHeight + Math.round(spec.fontSize * 0.8);
      texts.push(`<text x="${x}" y="${y}" xml:space="preserve">${escapeXml(line)}</text>`);
    }
  }
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${spec.width}" height="${height}">` +
    `<rect width="100%" height="100%" fill="${paper}"/>` +
    `<g font-family="${escapeXml(spec.font)}" font-size="${spec.fontSize}" fill="${ink}">${texts.join('')}</g></svg>`;
  return { svg, lines, paper };
}

/** A smooth light falloff: bright near a random point, darker (×0.7–0.85) towards the far edges, a little warm. */
function lightingSvg(width: number, height: number, random: Random): string {
  const edge = Math.round(between(random, 0.7, 0.85) * 255);
  const warm = `rgb(${edge},${Math.round(edge * 0.97)},${Math.round(edge * 0.9)})`;
  const cx = between(random, 0.25, 0.75).toFixed(2);
  const cy = between(random, 0.25, 0.75).toFixed(2);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<defs><radialGradient id="l" cx="${cx}" cy="${cy}" r="0.85">` +
    `<stop offset="0.2" stop-color="#ffffff"/><stop offset="1" stop-color="${warm}"/></radialGradient></defs>` +
    `<rect width="100%" height="100%" fill="url(#l)"/></svg>`
  );
}

/** Adds zero-mean noise (about N(0, sigma), the same on every channel of a pixel) to raw 8-bit pixels, in place. */
function addNoise(pixels: Buffer, channels: number, sigma: number, random: Random): void {
  for (let i = 0; i < pixels.length; i += channels) {
    // Sum of three uniforms: variance 1/4, so ×2 gives a unit-variance bell.
    const n = Math.round((random() + random() + random() - 1.5) * 2 * sigma);
    for (let c = 0; c < channels; c++) pixels[i + c] = Math.max(0, Math.min(255, pixels[i + c]! + n));
  }
}

/** A photo of the page: rotated ±1–4°, unevenly lit, blurred (σ 0.6–1.2), noisy, mostly JPEG'd at ~70. */
async function degrade(page: Sharp, paper: string, random: Random): Promise<Buffer> {
  const angle = between(random, 1, 4) * (random() < 0.5 ? -1 : 1);
  const rotated = await page
    .rotate(angle, { background: paper })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { width, height, channels } = rotated.info;
  const lit = await sharp(rotated.data, { raw: { width, height, channels } })
    .composite([{ input: Buffer.from(lightingSvg(width, height, random)), blend: 'multiply' }])
    .removeAlpha()
    .raw()
    .toBuffer();
  const blurred = await sharp(lit, { raw: { width, height, channels } })
    .blur(between(random, 0.6, 1.2))
    .raw()
    .toBuffer();
  addNoise(blurred, channels, between(random, 5, 12), random);
  const noisy = sharp(blurred, { raw: { width, height, channels } });
  if (random() < 0.7) {
    const jpeg = await noisy.jpeg({ quality: integer(random, 65, 75) }).toBuffer();
    return sharp(jpeg).png().toBuffer();
  }
  return noisy.png().toBuffer();
}

/** Renders a page (and, for a `photo` spec, degrades it) with its ground-truth lines. */
export async function renderPage(spec: PageSpec): Promise<OcrPage> {
  const random = prng(spec.seed);
  const { svg, lines, paper } = pageSvg(spec, random);
  const page = sharp(Buffer.from(svg)).flatten({ background: paper }).removeAlpha();
  const png = spec.kind === 'photo' ? await degrade(page, paper, random) : await page.png().toBuffer();
  const { width, height } = await sharp(png).metadata();
  return {
    name: spec.name,
    kind: spec.kind,
    png,
    width: width!,
    height: height!,
    lines,
    ...(spec.columns === 2 ? { columns: 2 } : {}),
  };
}

/**
 * The spec of the `index`th page of a kind in a set seeded `seed`, the same whatever the set's size: fonts in
 * turn, sizes 16–40 px, widths 1000–1600 px; the second page of each kind is in two columns.
 */
function pageSpec(kind: 'clean' | 'photo', index: number, seed: number): PageSpec {
  const random = prng(Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, kind === 'clean' ? 0x85ebca6b : 0xc2b2ae35));
  const columns = index === 1 ? 2 : 1;
  const font = OCR_FONTS[index % OCR_FONTS.length]!;
  const fontSize = columns === 2 ? integer(random, 16, 24) : integer(random, 16, 40);
  const width = columns === 2 ? integer(random, 1400, 1600) : integer(random, 1000, 1600);
  const lineCount = columns === 2 ? integer(random, 8, 12) : integer(random, 5, 25);
  const slug = font.toLowerCase().replaceAll(' ', '-');
  return {
    name: `${kind}-${index + 1}-${slug}-${fontSize}px${columns === 2 ? '-2col' : ''}`,
    kind,
    seed: Math.floor(random() * 2 ** 32),
    font,
    fontSize,
    width,
    lineCount,
    columns,
  };
}

/**
 * A deterministic set of pages: `count` (default 12) split into clean pages then photo pages (the odd one
 * clean), the second page of each kind in two columns. The same `seed` (default 1) gives the same bytes, and a
 * smaller set the same first pages of each kind.
 */
export async function ocrPageSet({ count = 12, seed = 1 }: { count?: number; seed?: number } = {}): Promise<OcrPage[]> {
  const clean = Math.ceil(count / 2);
  const specs = Array.from({ length: count }, (_, i) =>
    i < clean ? pageSpec('clean', i, seed) : pageSpec('photo', i - clean, seed),
  );
  return Promise.all(specs.map(renderPage));
}

const normalise = (text: string) => text.replace(/\s+/g, ' ').trim();

/**
 * Character error rate: the Levenshtein distance between the texts over the expected text's length, both with
 * whitespace runs (line breaks included) collapsed to one space and trimmed. An empty expectation divides by 1.
 */
export function characterErrorRate(expected: string, actual: string): number {
  const want = normalise(expected);
  return distance(want, normalise(actual)) / Math.max(1, want.length);
}
