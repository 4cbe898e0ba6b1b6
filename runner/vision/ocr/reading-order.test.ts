import { describe, expect, it } from 'vitest';
import type { Point, Quad } from './geometry.ts';
import { readingOrder } from './reading-order.ts';

/** An axis-aligned box as a Quad: top-left, top-right, bottom-right, bottom-left. */
const box = (left: number, top: number, width: number, height: number): Quad => [
  [left, top],
  [left + width, top],
  [left + width, top + height],
  [left, top + height],
];

const rotate = ([x, y]: Point, angle: number, cx: number, cy: number): Point => [
  cx + (x - cx) * Math.cos(angle) - (y - cy) * Math.sin(angle),
  cy + (x - cx) * Math.sin(angle) + (y - cy) * Math.cos(angle),
];

/** `quads` given in the order of `at` (at[k] is the index of the k-th line in reading order); returns them and what readingOrder should answer. */
function shuffled(lines: Quad[], at: number[]) {
  const quads: Quad[] = new Array<Quad>(lines.length);
  at.forEach((index, k) => (quads[index] = lines[k]!));
  return { quads, expected: at };
}

/** A title across the page, then two columns of 4 lines whose rows line up across a wide gutter. */
function twoColumnPage() {
  const lines: Quad[] = [box(50, 20, 500, 24)];
  for (const left of [50, 340]) for (let row = 0; row < 4; row++) lines.push(box(left, 70 + row * 32, 210, 22));
  return lines; // reading order: title, left column, right column
}

describe('readingOrder', () => {
  it('reads one column top to bottom, whatever order the lines come in', () => {
    const lines = [box(40, 10, 300, 20), box(40, 40, 260, 20), box(40, 70, 310, 20), box(40, 100, 120, 20)];
    lines.push(box(40, 130, 280, 20));
    const { quads, expected } = shuffled(lines, [3, 0, 4, 1, 2]);
    expect(readingOrder(quads)).toEqual(expected);
  });

  it('reads a title, then the whole left column, then the whole right column', () => {
    const { quads, expected } = shuffled(twoColumnPage(), [8, 2, 6, 0, 4, 1, 7, 3, 5]);
    expect(readingOrder(quads)).toEqual(expected);
  });

  it('reads the words of one line left to right', () => {
    const words = [box(10, 50, 60, 20), box(85, 49, 40, 22), box(140, 51, 90, 19)];
    const { quads, expected } = shuffled(words, [1, 2, 0]);
    expect(readingOrder(quads)).toEqual(expected);
  });

  it('keeps the order of a page photographed a few degrees off', () => {
    for (const degrees of [4, -4]) {
      const angle = (degrees * Math.PI) / 180;
      const page = twoColumnPage().map((quad) => quad.map((p) => rotate(p, angle, 300, 100)) as Quad);
      // Turned, the rows of the two columns overlap vertically and no straight horizontal cut separates them.
      const { quads, expected } = shuffled(page, [5, 7, 0, 2, 8, 4, 1, 6, 3]);
      expect(readingOrder(quads)).toEqual(expected);
    }
  });

  it('returns nothing for no lines, and the one index for one line', () => {
    expect(readingOrder([])).toEqual([]);
    expect(readingOrder([box(0, 0, 10, 10)])).toEqual([0]);
  });

  it('falls back to top to bottom, then left to right, when every line overlaps another both ways', () => {
    // Three boxes that overlap each other in both x and y: no empty band to cut at.
    const quads = [box(20, 10, 100, 40), box(0, 0, 100, 40), box(10, 5, 100, 40)];
    expect(readingOrder(quads)).toEqual([1, 2, 0]);
  });
});
