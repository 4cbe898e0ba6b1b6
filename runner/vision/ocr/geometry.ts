/** A point in pixels. */
export type Point = [x: number, y: number];

/** Four corners: top-left, top-right, bottom-right, bottom-left (clockwise on screen, y down). */
export type Quad = [Point, Point, Point, Point];

/** A rotated rectangle: centre, side lengths and the angle (radians) of the `width` side. */
export interface RotatedRect {
  cx: number;
  cy: number;
  width: number;
  height: number;
  angle: number;
}

const cross = (o: Point, a: Point, b: Point) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);

/** The convex hull of `points` (Andrew's monotone chain), counter-clockwise; sorts `points` in place. */
export function convexHull(points: Point[]): Point[] {
  if (points.length < 3) return points.slice();
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const lower: Point[] = [];
  for (const p of points) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = points.length - 1; i >= 0; i--) {
    const p = points[i]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, p) <= 0) upper.pop();
    upper.push(p);
  }
  lower.pop();
  upper.pop();
  return lower.concat(upper);
}

/**
 * The rectangle of least area around a convex polygon (rotating calipers: one side of the best rectangle lies
 * on a hull edge). A hull of one or two points gives a rectangle of zero height.
 */
export function minAreaRect(hull: readonly Point[]): RotatedRect {
  if (hull.length === 1) return { cx: hull[0]![0], cy: hull[0]![1], width: 0, height: 0, angle: 0 };
  let best: RotatedRect | undefined;
  let bestArea = Infinity;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i]!;
    const b = hull[(i + 1) % hull.length]!;
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    if (len === 0) continue;
    const ux = (b[0] - a[0]) / len;
    const uy = (b[1] - a[1]) / len;
    let minU = Infinity;
    let maxU = -Infinity;
    let minV = Infinity;
    let maxV = -Infinity;
    for (const p of hull) {
      const u = p[0] * ux + p[1] * uy;
      const v = -p[0] * uy + p[1] * ux;
      if (u < minU) minU = u;
      if (u > maxU) maxU = u;
      if (v < minV) minV = v;
      if (v > maxV) maxV = v;
    }
    const area = (maxU - minU) * (maxV - minV);
    if (area < bestArea) {
      bestArea = area;
      const cu = (minU + maxU) / 2;
      const cv = (minV + maxV) / 2;
      best = {
        cx: cu * ux - cv * uy,
        cy: cu * uy + cv * ux,
        width: maxU - minU,
        height: maxV - minV,
        angle: Math.atan2(uy, ux),
      };
    }
  }
  return best ?? { cx: hull[0]![0], cy: hull[0]![1], width: 0, height: 0, angle: 0 };
}

/**
 * The rectangle with its `width` along the text: of the two ways to name the sides, the one whose width side is
 * closest to horizontal (angle in (-45°, 45°]), so a line of text reads left to right.
 */
export function uprightRect(rect: RotatedRect): RotatedRect {
  let { width, height, angle } = rect;
  // Bring the angle into (-90°, 90°]: a side and its opposite direction are the same side.
  while (angle > Math.PI / 2) angle -= Math.PI;
  while (angle <= -Math.PI / 2) angle += Math.PI;
  if (angle > Math.PI / 4) {
    [width, height] = [height, width];
    angle -= Math.PI / 2;
  } else if (angle <= -Math.PI / 4) {
    [width, height] = [height, width];
    angle += Math.PI / 2;
  }
  return { ...rect, width, height, angle };
}

/** The rectangle's corners as a Quad (top-left first, clockwise), for an upright rectangle (see uprightRect). */
export function rectCorners({ cx, cy, width, height, angle }: RotatedRect): Quad {
  const ux = Math.cos(angle);
  const uy = Math.sin(angle);
  const hw = width / 2;
  const hh = height / 2;
  // u: along the width (to the right); v: along the height (downwards on screen).
  const at = (su: number, sv: number): Point => [cx + su * hw * ux - sv * hh * uy, cy + su * hw * uy + sv * hh * ux];
  return [at(-1, -1), at(1, -1), at(1, 1), at(-1, 1)];
}

/** The rectangle grown by `distance` on every side. */
export function growRect(rect: RotatedRect, distance: number): RotatedRect {
  return { ...rect, width: rect.width + 2 * distance, height: rect.height + 2 * distance };
}

/** The axis-aligned bounds of a quad. */
export function quadBounds(quad: Quad): { left: number; top: number; right: number; bottom: number } {
  const xs = quad.map((p) => p[0]);
  const ys = quad.map((p) => p[1]);
  return { left: Math.min(...xs), top: Math.min(...ys), right: Math.max(...xs), bottom: Math.max(...ys) };
}
