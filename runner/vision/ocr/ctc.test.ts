import { describe, expect, it } from 'vitest';
import { ctcDecode } from './ctc.ts';

const CHARSET = ['a', 'b', 'c'];
const CLASSES = CHARSET.length + 1; // class 0 is the blank

/** One step: `p` on class `c`, the rest shared evenly by the other classes. */
type Step = [c: number, p: number];

/** A `[N, T, C]` tensor from one list of steps per item (all of the same length). */
function tensor(items: Step[][], classes = CLASSES): { probs: Float32Array; n: number; steps: number } {
  const steps = items[0]?.length ?? 0;
  const probs = new Float32Array(items.length * steps * classes);
  items.forEach((item, i) => {
    expect(item).toHaveLength(steps);
    item.forEach(([c, p], t) => {
      const row = (i * steps + t) * classes;
      for (let k = 0; k < classes; k++) probs[row + k] = k === c ? p : (1 - p) / (classes - 1);
    });
  });
  return { probs, n: items.length, steps };
}

function decode(items: Step[][], charset: readonly string[] = CHARSET) {
  const { probs, n, steps } = tensor(items, charset.length + 1);
  return ctcDecode(probs, n, steps, charset.length + 1, charset);
}

const A = 1;
const B = 2;
const C = 3;
const _ = 0;

describe('ctcDecode', () => {
  it('collapses repeats', () => {
    const [line] = decode([
      [
        [A, 0.9],
        [A, 0.8],
        [B, 0.7],
        [B, 0.9],
        [B, 0.6],
      ],
    ]);
    expect(line!.text).toBe('ab');
  });

  it('keeps a repeat separated by a blank', () => {
    const [line] = decode([
      [
        [A, 0.9],
        [_, 0.9],
        [A, 0.8],
      ],
    ]);
    expect(line!.text).toBe('aa');
  });

  it('drops blanks', () => {
    const [line] = decode([
      [
        [_, 0.9],
        [C, 0.9],
        [_, 0.95],
        [_, 0.95],
        [B, 0.8],
        [_, 0.99],
      ],
    ]);
    expect(line!.text).toBe('cb');
  });

  it('scores a line by the mean top probability of the steps it keeps', () => {
    const [line] = decode([
      [
        [A, 0.9], // kept
        [A, 0.5], // a repeat: not counted
        [_, 0.99], // blank: not counted
        [B, 0.7], // kept
        [C, 0.6], // kept
      ],
    ]);
    expect(line!.text).toBe('abc');
    expect(line!.confidence).toBeCloseTo((0.9 + 0.7 + 0.6) / 3, 6);
  });

  it('reads an all-blank line as empty with confidence 0', () => {
    expect(
      decode([
        [
          [_, 0.9],
          [_, 0.8],
        ],
      ]),
    ).toEqual([{ text: '', confidence: 0 }]);
    // No steps at all.
    expect(ctcDecode(new Float32Array(0), 1, 0, CLASSES, CHARSET)).toEqual([{ text: '', confidence: 0 }]);
    expect(ctcDecode(new Float32Array(0), 0, 0, CLASSES, CHARSET)).toEqual([]);
  });

  it('decodes each item of a batch on its own', () => {
    const lines = decode([
      [
        [A, 0.9],
        [B, 0.8],
        [B, 0.8],
      ],
      [
        // Starts with b: the previous item's last b does not swallow it.
        [B, 0.6],
        [_, 0.9],
        [C, 0.8],
      ],
      [
        [_, 0.9],
        [_, 0.9],
        [_, 0.9],
      ],
    ]);
    expect(lines).toHaveLength(3);
    expect(lines[0]!.text).toBe('ab');
    expect(lines[0]!.confidence).toBeCloseTo(0.85, 6);
    expect(lines[1]!.text).toBe('bc');
    expect(lines[1]!.confidence).toBeCloseTo(0.7, 6);
    expect(lines[2]).toEqual({ text: '', confidence: 0 });
  });

  it("maps class c to charset[c - 1] and takes each step's most probable class", () => {
    const charset = ['x', 'y', 'z', 'é', '中'];
    const { probs, n, steps } = tensor(
      [
        [
          [5, 0.9],
          [4, 0.9],
          [1, 0.9],
          [3, 0.9],
          [2, 0.9],
        ],
      ],
      6,
    );
    expect(ctcDecode(probs, n, steps, 6, charset)[0]!.text).toBe('中éxzy');

    // Not one-hot: the largest of the row wins, wherever it is.
    const row = new Float32Array([0.1, 0.2, 0.35, 0.3, 0.05, 0]);
    expect(ctcDecode(row, 1, 1, 6, charset)).toEqual([{ text: 'y', confidence: Math.fround(0.35) }]);
  });
});
