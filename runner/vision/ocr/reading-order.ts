import type { Quad } from './geometry.ts';

interface Bounds {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/**
 * The order to read text lines in: top to bottom, left to right, columns kept apart. Lines are first turned
 * by the page's median text angle (a photographed page a few degrees off still has gaps between its lines),
 * then cut recursively at the widest empty band, across or down the page, that no line crosses (an XY-cut
 * taking one cut at a time: a title above two columns is cut off first, then the gutter between the columns,
 * then the lines of each column). Returns indices into `quads`.
 */
export function readingOrder(quads: readonly Quad[]): number[] {
  const angles = quads.map(([p0, p1]) => Math.atan2(p1[1] - p0[1], p1[0] - p0[0])).sort((a, b) => a - b);
  const angle = angles.length ? angles[Math.floor(angles.length / 2)]! : 0;
  const cos = Math.cos(-angle);
  const sin = Math.sin(-angle);
  const bounds = quads.map((quad): Bounds => {
    const xs = quad.map(([x, y]) => x * cos - y * sin);
    const ys = quad.map(([x, y]) => x * sin + y * cos);
    return { left: Math.min(...xs), top: Math.min(...ys), right: Math.max(...xs), bottom: Math.max(...ys) };
  });
  const order: number[] = [];
  cut(
    quads.map((_, i) => i),
    bounds,
    order,
  );
  return order;
}

/** The widest gap along one axis that no box crosses: where to split `indices` (sorted by start), and how wide. */
function widestGap(indices: number[], start: (i: number) => number, end: (i: number) => number) {
  const sorted = indices.slice().sort((a, b) => start(a) - start(b) || end(a) - end(b));
  let reach = -Infinity;
  let best = { gap: 0, at: -1 };
  for (let k = 0; k < sorted.length; k++) {
    const i = sorted[k]!;
    if (k > 0 && start(i) - reach > best.gap) best = { gap: start(i) - reach, at: k };
    reach = Math.max(reach, end(i));
  }
  return { ...best, sorted };
}

function cut(indices: number[], bounds: Bounds[], order: number[]): void {
  if (indices.length <= 1) {
    order.push(...indices);
    return;
  }
  const across = widestGap(
    indices,
    (i) => bounds[i]!.top,
    (i) => bounds[i]!.bottom,
  );
  const down = widestGap(
    indices,
    (i) => bounds[i]!.left,
    (i) => bounds[i]!.right,
  );
  const split = down.gap > across.gap ? down : across;
  if (split.at < 0) {
    // Every line overlaps another both ways: top to bottom, then left to right.
    order.push(...indices.slice().sort((a, b) => bounds[a]!.top - bounds[b]!.top || bounds[a]!.left - bounds[b]!.left));
    return;
  }
  cut(split.sorted.slice(0, split.at), bounds, order);
  cut(split.sorted.slice(split.at), bounds, order);
}
