import { describe, expect, it } from 'vitest';
import {
  convexHull,
  growRect,
  minAreaRect,
  quadBounds,
  rectCorners,
  uprightRect,
  type Point,
  type Quad,
  type RotatedRect,
} from './geometry.ts';

const DEG = Math.PI / 180;

/** Points as sorted strings, to compare sets of points whatever their order. */
const asSet = (points: readonly Point[]) => points.map(([x, y]) => `${x},${y}`).sort();

/** `p` rotated by `angle` about `[cx, cy]`. */
const rotate = ([x, y]: Point, angle: number, cx: number, cy: number): Point => [
  cx + (x - cx) * Math.cos(angle) - (y - cy) * Math.sin(angle),
  cy + (x - cx) * Math.sin(angle) + (y - cy) * Math.cos(angle),
];

/** Twice the signed area of a polygon (shoelace); positive when counter-clockwise in x-right/y-up terms. */
const signedArea2 = (poly: readonly Point[]) =>
  poly.reduce((sum, [x, y], i) => {
    const [nx, ny] = poly[(i + 1) % poly.length]!;
    return sum + x * ny - nx * y;
  }, 0);

const expectPoint = (actual: Point, expected: Point, digits = 9) => {
  expect(actual[0]).toBeCloseTo(expected[0], digits);
  expect(actual[1]).toBeCloseTo(expected[1], digits);
};

describe('convexHull', () => {
  it('keeps the four corners of a square and drops interior points and points on its sides', () => {
    const points: Point[] = [
      [5, 5],
      [0, 0],
      [2, 7],
      [10, 0],
      [5, 0], // on the bottom side
      [10, 10],
      [0, 4], // on the left side
      [7, 3],
      [0, 10],
      [9, 9],
    ];
    const hull = convexHull(points);
    expect(hull).toHaveLength(4);
    expect(asSet(hull)).toEqual(
      asSet([
        [0, 0],
        [10, 0],
        [10, 10],
        [0, 10],
      ]),
    );
    // Consistent winding: counter-clockwise in the x-right/y-up sense (positive shoelace area).
    expect(signedArea2(hull)).toBe(2 * 100);
  });

  it('reduces collinear points to the two ends', () => {
    const hull = convexHull([
      [2, 2],
      [0, 0],
      [3, 3],
      [1, 1],
    ]);
    expect(asSet(hull)).toEqual(
      asSet([
        [0, 0],
        [3, 3],
      ]),
    );
  });

  it('returns a copy of fewer than three points', () => {
    const points: Point[] = [
      [1, 2],
      [3, 4],
    ];
    const hull = convexHull(points);
    expect(hull).toEqual(points);
    expect(hull).not.toBe(points);
    expect(convexHull([])).toEqual([]);
  });

  it('ignores duplicate points', () => {
    const hull = convexHull([
      [0, 0],
      [4, 0],
      [0, 0],
      [0, 3],
      [4, 0],
      [0, 3],
    ]);
    expect(asSet(hull)).toEqual(
      asSet([
        [0, 0],
        [4, 0],
        [0, 3],
      ]),
    );
  });
});

describe('minAreaRect', () => {
  const cx = 120;
  const cy = 80;
  const angle = 10 * DEG;
  const corners: Point[] = (
    [
      [cx - 50, cy - 10],
      [cx + 50, cy - 10],
      [cx + 50, cy + 10],
      [cx - 50, cy + 10],
    ] as Point[]
  ).map((p) => rotate(p, angle, cx, cy));
  const interior: Point[] = (
    [
      [cx, cy],
      [cx - 30, cy + 5],
      [cx + 45, cy - 9],
      [cx + 10, cy + 9.5],
    ] as Point[]
  ).map((p) => rotate(p, angle, cx, cy));

  it('finds a rotated 100×20 rectangle from its corners and some interior points', () => {
    const rect = minAreaRect(convexHull([...interior, ...corners]));
    expect(Math.max(rect.width, rect.height)).toBeCloseTo(100, 6);
    expect(Math.min(rect.width, rect.height)).toBeCloseTo(20, 6);
    expect(rect.cx).toBeCloseTo(cx, 6);
    expect(rect.cy).toBeCloseTo(cy, 6);
    // The angle is that of the width side: the long side at 10° (mod 180°) or the short one at 100° (mod 180°).
    const sideAngle = rect.width > rect.height ? rect.angle : rect.angle - 90 * DEG;
    const offBy = (((sideAngle - angle) % Math.PI) + Math.PI) % Math.PI;
    expect(Math.min(offBy, Math.PI - offBy)).toBeLessThan(1e-9);
    // Its corners are the rectangle's corners.
    const found = rectCorners(uprightRect(rect));
    for (const corner of corners) {
      expect(found.some((p) => Math.hypot(p[0] - corner[0], p[1] - corner[1]) < 1e-6)).toBe(true);
    }
  });

  it('upright, reads along the long side at 10°', () => {
    const rect = uprightRect(minAreaRect(convexHull([...corners, ...interior])));
    expect(rect.width).toBeCloseTo(100, 6);
    expect(rect.height).toBeCloseTo(20, 6);
    expect(rect.angle).toBeCloseTo(angle, 9);
  });

  it('is exact for an axis-aligned rectangle', () => {
    const rect = uprightRect(
      minAreaRect(
        convexHull([
          [10, 20],
          [40, 20],
          [40, 26],
          [10, 26],
          [25, 23],
        ]),
      ),
    );
    expect(rect.width).toBeCloseTo(30, 9);
    expect(rect.height).toBeCloseTo(6, 9);
    expect(rect.cx).toBeCloseTo(25, 9);
    expect(rect.cy).toBeCloseTo(23, 9);
    expect(Math.abs(rect.angle)).toBeLessThan(1e-12);
  });

  it('gives a zero-size rectangle at a single point', () => {
    expect(minAreaRect([[7, 9]])).toEqual({ cx: 7, cy: 9, width: 0, height: 0, angle: 0 });
  });

  it('gives a zero-height rectangle along two points', () => {
    const rect = minAreaRect([
      [0, 0],
      [3, 4],
    ]);
    expect(rect.width).toBeCloseTo(5, 9);
    expect(rect.height).toBeCloseTo(0, 9);
    expect(rect.cx).toBeCloseTo(1.5, 9);
    expect(rect.cy).toBeCloseTo(2, 9);
    expect(rect.angle).toBeCloseTo(Math.atan2(4, 3), 9);
  });
});

describe('uprightRect', () => {
  it('swaps the sides when the width side is near vertical', () => {
    const rect = uprightRect({ cx: 5, cy: 6, width: 20, height: 100, angle: 100 * DEG });
    expect(rect.cx).toBe(5);
    expect(rect.cy).toBe(6);
    expect(rect.width).toBe(100);
    expect(rect.height).toBe(20);
    expect(rect.angle).toBeCloseTo(10 * DEG, 12);

    const other = uprightRect({ cx: 0, cy: 0, width: 20, height: 100, angle: 80 * DEG });
    expect(other.width).toBe(100);
    expect(other.height).toBe(20);
    expect(other.angle).toBeCloseTo(-10 * DEG, 12);

    const negative = uprightRect({ cx: 0, cy: 0, width: 20, height: 100, angle: -80 * DEG });
    expect(negative.width).toBe(100);
    expect(negative.height).toBe(20);
    expect(negative.angle).toBeCloseTo(10 * DEG, 12);
  });

  it('keeps a near-horizontal width side, turned by half turns into (-90°, 90°]', () => {
    expect(uprightRect({ cx: 0, cy: 0, width: 100, height: 20, angle: 10 * DEG })).toEqual({
      cx: 0,
      cy: 0,
      width: 100,
      height: 20,
      angle: 10 * DEG,
    });
    const flipped = uprightRect({ cx: 0, cy: 0, width: 100, height: 20, angle: 190 * DEG });
    expect(flipped.width).toBe(100);
    expect(flipped.height).toBe(20);
    expect(flipped.angle).toBeCloseTo(10 * DEG, 12);
    const back = uprightRect({ cx: 0, cy: 0, width: 100, height: 20, angle: -175 * DEG });
    expect(back.width).toBe(100);
    expect(back.angle).toBeCloseTo(5 * DEG, 12);
  });

  it('puts the angle in (-45°, 45°]', () => {
    expect(uprightRect({ cx: 0, cy: 0, width: 1, height: 2, angle: Math.PI / 4 })).toMatchObject({
      width: 1,
      height: 2,
      angle: Math.PI / 4,
    });
    const at = uprightRect({ cx: 0, cy: 0, width: 1, height: 2, angle: -Math.PI / 4 });
    expect(at).toMatchObject({ width: 2, height: 1 });
    expect(at.angle).toBeCloseTo(Math.PI / 4, 12);
    for (let deg = -360; deg <= 360; deg += 7.5) {
      const rect: RotatedRect = { cx: 3, cy: 4, width: 50, height: 10, angle: deg * DEG };
      const upright = uprightRect(rect);
      expect(upright.angle).toBeGreaterThan(-Math.PI / 4 - 1e-12);
      expect(upright.angle).toBeLessThanOrEqual(Math.PI / 4 + 1e-12);
      // The same rectangle on the page: the same four corners.
      const before = rectCorners(rect);
      const after = rectCorners(upright);
      for (const corner of before) {
        expect(after.some((p) => Math.hypot(p[0] - corner[0], p[1] - corner[1]) < 1e-9)).toBe(true);
      }
    }
  });
});

describe('rectCorners', () => {
  it('lists an unrotated rectangle from the top-left, clockwise on screen', () => {
    const quad = rectCorners({ cx: 50, cy: 20, width: 100, height: 20, angle: 0 });
    const expected: Quad = [
      [0, 10],
      [100, 10],
      [100, 30],
      [0, 30],
    ];
    quad.forEach((p, i) => expectPoint(p, expected[i]!));
  });

  it('lists a slightly rotated rectangle from the top-left, clockwise on screen', () => {
    const angle = 5 * DEG;
    const quad = rectCorners({ cx: 50, cy: 20, width: 100, height: 20, angle });
    const expected = (
      [
        [0, 10],
        [100, 10],
        [100, 30],
        [0, 30],
      ] as Point[]
    ).map((p) => rotate(p, angle, 50, 20));
    quad.forEach((p, i) => expectPoint(p, expected[i]!));
    const [tl, tr, br, bl] = quad;
    expect(tl[0]).toBeLessThan(tr[0]);
    expect(bl[0]).toBeLessThan(br[0]);
    expect(tl[1]).toBeLessThan(bl[1]);
    expect(tr[1]).toBeLessThan(br[1]);
    // Turning 5° clockwise on screen (y down) lowers the right end.
    expect(tr[1]).toBeGreaterThan(tl[1]);
    // Sides: width along TL→TR, height along TL→BL.
    expect(Math.hypot(tr[0] - tl[0], tr[1] - tl[1])).toBeCloseTo(100, 9);
    expect(Math.hypot(bl[0] - tl[0], bl[1] - tl[1])).toBeCloseTo(20, 9);
  });
});

describe('growRect', () => {
  it('adds the distance on every side, keeping the centre and angle', () => {
    const rect: RotatedRect = { cx: 10, cy: 20, width: 30, height: 8, angle: 0.2 };
    expect(growRect(rect, 2.5)).toEqual({ cx: 10, cy: 20, width: 35, height: 13, angle: 0.2 });
    expect(rect.width).toBe(30); // not changed in place
    expect(growRect(rect, 0)).toEqual(rect);
  });

  it('moves every side outwards by the distance', () => {
    const grown = rectCorners(growRect({ cx: 0, cy: 0, width: 10, height: 4, angle: 0 }, 1));
    expect(quadBounds(grown)).toEqual({ left: -6, top: -3, right: 6, bottom: 3 });
  });
});

describe('quadBounds', () => {
  it('gives the axis-aligned bounds of any quad', () => {
    expect(
      quadBounds([
        [3, 1],
        [10, 4],
        [8, 9],
        [-2, 6],
      ]),
    ).toEqual({ left: -2, top: 1, right: 10, bottom: 9 });
    expect(
      quadBounds([
        [0, 0],
        [5, 0],
        [5, 2],
        [0, 2],
      ]),
    ).toEqual({ left: 0, top: 0, right: 5, bottom: 2 });
  });
});
