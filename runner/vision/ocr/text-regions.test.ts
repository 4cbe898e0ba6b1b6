import { describe, expect, it } from 'vitest';
import { quadBounds, type Point, type Quad } from './geometry.ts';
import { meanInside, regionPoints, textRegions, type ProbabilityMap } from './text-regions.ts';

const DEG = Math.PI / 180;

function blankMap(width = 200, height = 100): ProbabilityMap {
  return { data: new Float32Array(width * height), width, height };
}

/** Paints pixels x in [left, right), y in [top, bottom) with `value`. */
function paint(map: ProbabilityMap, left: number, top: number, right: number, bottom: number, value = 0.9) {
  for (let y = top; y < bottom; y++) for (let x = left; x < right; x++) map.data[y * map.width + x] = value;
}

/** Paints the pixels whose centres lie in the rectangle of centre (cx, cy), sides w × h, turned by `angle`. */
function paintRotated(map: ProbabilityMap, cx: number, cy: number, w: number, h: number, angle: number, value = 0.9) {
  const painted: Point[] = [];
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  for (let y = 0; y < map.height; y++) {
    for (let x = 0; x < map.width; x++) {
      const u = (x - cx) * cos + (y - cy) * sin;
      const v = -(x - cx) * sin + (y - cy) * cos;
      if (Math.abs(u) <= w / 2 && Math.abs(v) <= h / 2) {
        map.data[y * map.width + x] = value;
        painted.push([x, y]);
      }
    }
  }
  return painted;
}

/** Whether `p` is inside the convex quad (or on its edge), whatever its winding. */
function insideQuad(quad: Quad, [x, y]: Point): boolean {
  let sign = 0;
  for (let i = 0; i < 4; i++) {
    const [ax, ay] = quad[i]!;
    const [bx, by] = quad[(i + 1) % 4]!;
    const c = (bx - ax) * (y - ay) - (by - ay) * (x - ax);
    if (Math.abs(c) < 1e-9) continue;
    if (sign === 0) sign = Math.sign(c);
    else if (Math.sign(c) !== sign) return false;
  }
  return true;
}

const side = (a: Point, b: Point) => Math.hypot(b[0] - a[0], b[1] - a[1]);

/** PaddleOCR's unclip offset for a w × h rectangle. */
const unclip = (w: number, h: number, ratio: number) => (w * h * ratio) / (2 * (w + h));

describe('textRegions', () => {
  it('finds one region per rectangle, grown back by the unclip offset', () => {
    const map = blankMap();
    paint(map, 20, 20, 80, 40); // 60 × 20 pixels
    paint(map, 120, 60, 180, 85); // 60 × 25 pixels
    const regions = textRegions(map, { unclipRatio: 1.5 });
    expect(regions).toHaveLength(2);
    const painted = [
      { left: 20, top: 20, right: 80, bottom: 40 },
      { left: 120, top: 60, right: 180, bottom: 85 },
    ];
    regions.forEach((region, i) => {
      const p = painted[i]!;
      expect(region.score).toBeCloseTo(0.9, 5);
      const bounds = quadBounds(region.quad);
      // Encloses every painted pixel (its whole square, not just the centre).
      expect(bounds.left).toBeLessThanOrEqual(p.left);
      expect(bounds.top).toBeLessThanOrEqual(p.top);
      expect(bounds.right).toBeGreaterThanOrEqual(p.right);
      expect(bounds.bottom).toBeGreaterThanOrEqual(p.bottom);
      // Axis-aligned, with the sides grown by twice the unclip offset (±2 px: pixel centres vs edges).
      const [tl, tr, br, bl] = region.quad;
      expect(tl[1]).toBeCloseTo(tr[1], 6);
      expect(tl[0]).toBeCloseTo(bl[0], 6);
      const w = p.right - p.left;
      const h = p.bottom - p.top;
      const d = unclip(w, h, 1.5);
      expect(Math.abs(side(tl, tr) - (w + 2 * d))).toBeLessThanOrEqual(2);
      expect(Math.abs(side(tl, bl) - (h + 2 * d))).toBeLessThanOrEqual(2);
      expect(Math.abs(side(tr, br) - (h + 2 * d))).toBeLessThanOrEqual(2);
      // Centred on the painted rectangle.
      expect((tl[0] + br[0]) / 2).toBeCloseTo((p.left + p.right - 1) / 2, 6);
      expect((tl[1] + br[1]) / 2).toBeCloseTo((p.top + p.bottom - 1) / 2, 6);
    });
  });

  it('grows by the offset of the rectangle through the pixel centres, exactly', () => {
    const map = blankMap();
    paint(map, 20, 20, 80, 40);
    for (const ratio of [1, 1.5, 2]) {
      const [region] = textRegions(map, { unclipRatio: ratio });
      const [tl, tr, , bl] = region!.quad;
      // Pixel centres 20…79 × 20…39: a 59 × 19 rectangle.
      const d = unclip(59, 19, ratio);
      expect(side(tl, tr)).toBeCloseTo(59 + 2 * d, 6);
      expect(side(tl, bl)).toBeCloseTo(19 + 2 * d, 6);
    }
  });

  it('finds a rotated rectangle with its angle, enclosing every painted pixel', () => {
    const map = blankMap();
    const angle = 5 * DEG;
    const painted = paintRotated(map, 100, 50, 100, 24, angle);
    const regions = textRegions(map, { unclipRatio: 1.5 });
    expect(regions).toHaveLength(1);
    const { quad, score } = regions[0]!;
    expect(score).toBeGreaterThan(0.85);
    expect(score).toBeLessThanOrEqual(0.9 + 1e-6);
    const [tl, tr, br, bl] = quad;
    // Reads left to right along the rectangle's long side.
    expect(tl[0]).toBeLessThan(tr[0]);
    expect(tl[1]).toBeLessThan(bl[1]);
    expect(Math.atan2(tr[1] - tl[1], tr[0] - tl[0])).toBeCloseTo(angle, 1);
    const d = unclip(100, 24, 1.5);
    expect(Math.abs(side(tl, tr) - (100 + 2 * d))).toBeLessThanOrEqual(2);
    expect(Math.abs(side(tl, bl) - (24 + 2 * d))).toBeLessThanOrEqual(2);
    expect(Math.abs(side(br, bl) - (100 + 2 * d))).toBeLessThanOrEqual(2);
    expect((tl[0] + br[0]) / 2).toBeCloseTo(100, 0);
    expect((tl[1] + br[1]) / 2).toBeCloseTo(50, 0);
    for (const p of painted) expect(insideQuad(quad, p)).toBe(true);
  });

  it('joins rectangles that touch only at a corner (8-connectivity)', () => {
    const map = blankMap();
    paint(map, 20, 20, 50, 40); // its last pixel (49, 39)…
    paint(map, 50, 40, 80, 60); // …touches (50, 40) diagonally
    expect(regionPoints(map, 0.3)).toHaveLength(1);
    // One region around both (half of its box is empty, hence the low boxThreshold).
    const joined = textRegions(map, { boxThreshold: 0.2 });
    expect(joined).toHaveLength(1);
    expect(joined[0]!.score).toBeLessThan(0.6);
    const bounds = quadBounds(joined[0]!.quad);
    expect(bounds.left).toBeLessThanOrEqual(20);
    expect(bounds.top).toBeLessThanOrEqual(20);
    expect(bounds.right).toBeGreaterThanOrEqual(80);
    expect(bounds.bottom).toBeGreaterThanOrEqual(60);

    const apart = blankMap();
    paint(apart, 20, 20, 50, 40);
    paint(apart, 51, 40, 80, 60); // one pixel further: no longer touching
    expect(regionPoints(apart, 0.3)).toHaveLength(2);
    expect(textRegions(apart, { boxThreshold: 0.2 })).toHaveLength(2);
  });

  it('takes only values above the threshold as text', () => {
    const map = blankMap();
    paint(map, 20, 20, 80, 40, 0.5);
    expect(textRegions(map, { threshold: 0.5, boxThreshold: 0.4 })).toEqual([]);
    expect(regionPoints(map, 0.5)).toEqual([]);
    const found = textRegions(map, { threshold: 0.49, boxThreshold: 0.4 });
    expect(found).toHaveLength(1);
    expect(found[0]!.score).toBeCloseTo(0.5, 6);
  });

  it('drops a region whose mean probability is below boxThreshold', () => {
    const map = blankMap();
    paint(map, 20, 20, 80, 40, 0.4);
    expect(textRegions(map, { threshold: 0.3, boxThreshold: 0.6 })).toEqual([]);
    expect(textRegions(map, { threshold: 0.3, boxThreshold: 0.35 })).toHaveLength(1);
    // The defaults are those thresholds too.
    expect(textRegions(map)).toEqual([]);
  });

  it('drops regions thinner than 3 px', () => {
    const map = blankMap();
    paint(map, 20, 20, 120, 22); // 2 rows
    paint(map, 150, 10, 152, 90); // 2 columns
    paint(map, 30, 60, 32, 62); // 2 × 2
    paint(map, 60, 50, 61, 51); // one pixel
    expect(regionPoints(map, 0.3)).toHaveLength(4);
    expect(textRegions(map)).toEqual([]);
    paint(map, 20, 70, 120, 76); // 6 rows: kept
    const regions = textRegions(map);
    expect(regions).toHaveLength(1);
    expect(quadBounds(regions[0]!.quad).top).toBeLessThan(70);
    expect(quadBounds(regions[0]!.quad).bottom).toBeGreaterThan(75);
  });

  it('stops at maxRegions', () => {
    const map = blankMap();
    for (let i = 0; i < 5; i++) paint(map, 10 + i * 38, 20, 40 + i * 38, 40);
    expect(textRegions(map)).toHaveLength(5);
    expect(textRegions(map, { maxRegions: 2 })).toHaveLength(2);
    expect(textRegions(map, { maxRegions: 0 })).toEqual([]);
  });

  it('finds nothing on an empty map', () => {
    expect(textRegions(blankMap())).toEqual([]);
  });
});

describe('regionPoints', () => {
  const tiny = (rows: string[]): ProbabilityMap => ({
    data: Float32Array.from(rows.join('').split(''), (c) => (c === '#' ? 1 : 0)),
    width: rows[0]!.length,
    height: rows.length,
  });

  it('gives the ends of each run, region by region in order of their first row', () => {
    const map = tiny([
      '##..#', //
      '.#...',
      '...##',
    ]);
    expect(regionPoints(map, 0.5)).toEqual([
      [
        [0, 0],
        [1, 0],
        [1, 1],
      ],
      [[4, 0]],
      [
        [3, 2],
        [4, 2],
      ],
    ]);
  });

  it('merges regions that meet further down (a U shape is one region)', () => {
    const map = tiny([
      '#...#', //
      '#...#',
      '#####',
    ]);
    expect(regionPoints(map, 0.5)).toEqual([
      [
        [0, 0],
        [4, 0],
        [0, 1],
        [4, 1],
        [0, 2],
        [4, 2],
      ],
    ]);
  });

  it('joins runs touching diagonally, in either direction', () => {
    expect(
      regionPoints(
        tiny([
          '#..', //
          '.#.',
          '..#',
        ]),
        0.5,
      ),
    ).toHaveLength(1);
    expect(
      regionPoints(
        tiny([
          '..#', //
          '.#.',
          '#..',
        ]),
        0.5,
      ),
    ).toHaveLength(1);
    expect(
      regionPoints(
        tiny([
          '#.#', //
          '...',
          '#.#',
        ]),
        0.5,
      ),
    ).toHaveLength(4);
  });
});

describe('meanInside', () => {
  it('is the constant of a constant map', () => {
    const map = blankMap(40, 30);
    map.data.fill(0.7);
    const quads: Quad[] = [
      [
        [2, 3],
        [30, 3],
        [30, 20],
        [2, 20],
      ],
      [
        [10.5, 2],
        [35, 10],
        [28, 27.5],
        [4, 19],
      ],
    ];
    for (const quad of quads) expect(meanInside(map, quad)).toBeCloseTo(0.7, 6);
  });

  it('averages a half-filled map over a quad covering both halves', () => {
    const map = blankMap(20, 10);
    paint(map, 0, 0, 10, 10, 1);
    const whole: Quad = [
      [0, 0],
      [19, 0],
      [19, 9],
      [0, 9],
    ];
    expect(meanInside(map, whole)).toBeCloseTo(0.5, 9);
    // A diamond centred on the boundary between the halves: about half of its pixels are filled.
    const diamond: Quad = [
      [9.5, 0],
      [18, 4.5],
      [9.5, 9],
      [1, 4.5],
    ];
    expect(meanInside(map, diamond)).toBeGreaterThan(0.4);
    expect(meanInside(map, diamond)).toBeLessThan(0.6);
    // Only the filled half, and only the empty half.
    const left: Quad = [
      [0, 0],
      [9, 0],
      [9, 9],
      [0, 9],
    ];
    expect(meanInside(map, left)).toBe(1);
    const right: Quad = [
      [10, 0],
      [19, 0],
      [19, 9],
      [10, 9],
    ];
    expect(meanInside(map, right)).toBe(0);
  });

  it('counts only pixel centres inside the quad, and is 0 when there are none', () => {
    const map = blankMap(10, 10);
    paint(map, 3, 3, 6, 6, 1); // pixels 3…5
    expect(
      meanInside(map, [
        [2.5, 2.5],
        [5.5, 2.5],
        [5.5, 5.5],
        [2.5, 5.5],
      ]),
    ).toBe(1);
    expect(
      meanInside(map, [
        [1.5, 1.5],
        [6.5, 1.5],
        [6.5, 6.5],
        [1.5, 6.5],
      ]),
    ).toBeCloseTo(9 / 25, 9);
    expect(
      meanInside(map, [
        [20, 20],
        [30, 20],
        [30, 30],
        [20, 30],
      ]),
    ).toBe(0);
  });
});
