import { convexHull, growRect, minAreaRect, rectCorners, uprightRect, type Point, type Quad } from './geometry.ts';

/** The detection model's probability map: `height` rows of `width` values in 0–1. */
export interface ProbabilityMap {
  data: Float32Array;
  width: number;
  height: number;
}

export interface RegionOptions {
  /** A pixel is text above this probability; default 0.3 (PaddleOCR's `det_db_thresh`). */
  threshold?: number;
  /** A region is kept when its mean probability reaches this; default 0.6 (`det_db_box_thresh`). */
  boxThreshold?: number;
  /** How much a region grows back (the model predicts shrunk text); default 1.5 (`det_db_unclip_ratio`). */
  unclipRatio?: number;
  /** Most regions considered; default 1000. */
  maxRegions?: number;
}

/** A text region found in the map, in the map's pixels. */
export interface TextRegion {
  quad: Quad;
  /** Mean probability inside the region before it grew back. */
  score: number;
}

const MIN_SIDE = 3;

/**
 * Text regions of a DB (differentiable binarisation) probability map: threshold, 8-connected regions found
 * from runs of pixels (one pass with union–find, no per-pixel flood fill), the rectangle of least area around
 * each region's convex hull, its mean probability, then the rectangle grown by `area × ratio / perimeter` on
 * every side (the offset PaddleOCR's unclip makes, closed form for a rectangle).
 */
export function textRegions(map: ProbabilityMap, options: RegionOptions = {}): TextRegion[] {
  const { threshold = 0.3, boxThreshold = 0.6, unclipRatio = 1.5, maxRegions = 1000 } = options;
  const regions: TextRegion[] = [];
  for (const points of regionPoints(map, threshold)) {
    if (regions.length >= maxRegions) break;
    const rect = uprightRect(minAreaRect(convexHull(points)));
    if (Math.min(rect.width, rect.height) < MIN_SIDE) continue;
    const quad = rectCorners(rect);
    const score = meanInside(map, quad);
    if (score < boxThreshold) continue;
    const distance = (rect.width * rect.height * unclipRatio) / (2 * (rect.width + rect.height));
    const grown = uprightRect(growRect(rect, distance));
    if (Math.min(grown.width, grown.height) < MIN_SIDE + 2) continue;
    regions.push({ quad: rectCorners(grown), score });
  }
  return regions;
}

/**
 * The outline points of each 8-connected region above `threshold`: the first and last pixel centre of every
 * run of text pixels (their convex hull is the region's). Regions in order of their first row.
 */
export function regionPoints(map: ProbabilityMap, threshold: number): Point[][] {
  const { data, width, height } = map;
  // Runs of the previous row and of this one: start, end (inclusive), label.
  let previous: number[] = [];
  const parent: number[] = [];
  const find = (a: number): number => {
    while (parent[a] !== a) {
      parent[a] = parent[parent[a]!]!;
      a = parent[a]!;
    }
    return a;
  };
  const runs: number[] = []; // y, start, end, label per run
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const current: number[] = [];
    let p = 0; // index into previous (runs are sorted by start)
    for (let x = 0; x < width; x++) {
      if (!(data[row + x]! > threshold)) continue;
      const start = x;
      while (x + 1 < width && data[row + x + 1]! > threshold) x++;
      const end = x;
      let label = -1;
      // Previous-row runs touching [start - 1, end + 1] (8-connectivity) join this run's region.
      while (p < previous.length && previous[p + 1]! < start - 1) p += 3;
      for (let q = p; q < previous.length && previous[q]! <= end + 1; q += 3) {
        const other = find(previous[q + 2]!);
        if (label < 0) label = other;
        else if (other !== label) {
          const [keep, drop] = other < label ? [other, label] : [label, other];
          parent[drop] = keep;
          label = keep;
        }
      }
      if (label < 0) {
        label = parent.length;
        parent.push(label);
      }
      current.push(start, end, label);
      runs.push(y, start, end, label);
    }
    previous = current;
  }
  const byRoot = new Map<number, Point[]>();
  for (let i = 0; i < runs.length; i += 4) {
    const root = find(runs[i + 3]!);
    let points = byRoot.get(root);
    if (!points) byRoot.set(root, (points = []));
    const y = runs[i]!;
    points.push([runs[i + 1]!, y]);
    if (runs[i + 2] !== runs[i + 1]) points.push([runs[i + 2]!, y]);
  }
  return [...byRoot.values()];
}

/** The mean of the map over the pixels whose centres lie inside the convex quad. */
export function meanInside(map: ProbabilityMap, quad: Quad): number {
  const { data, width, height } = map;
  const ys = quad.map((p) => p[1]);
  const top = Math.max(0, Math.ceil(Math.min(...ys)));
  const bottom = Math.min(height - 1, Math.floor(Math.max(...ys)));
  let sum = 0;
  let count = 0;
  for (let y = top; y <= bottom; y++) {
    let left = Infinity;
    let right = -Infinity;
    for (let i = 0; i < 4; i++) {
      const a = quad[i]!;
      const b = quad[(i + 1) % 4]!;
      if (a[1] === b[1]) {
        if (a[1] === y) {
          left = Math.min(left, a[0], b[0]);
          right = Math.max(right, a[0], b[0]);
        }
        continue;
      }
      if (y < Math.min(a[1], b[1]) || y > Math.max(a[1], b[1])) continue;
      const x = a[0] + ((y - a[1]) * (b[0] - a[0])) / (b[1] - a[1]);
      left = Math.min(left, x);
      right = Math.max(right, x);
    }
    const from = Math.max(0, Math.ceil(left));
    const to = Math.min(width - 1, Math.floor(right));
    const row = y * width;
    for (let x = from; x <= to; x++) sum += data[row + x]!;
    if (to >= from) count += to - from + 1;
  }
  return count ? sum / count : 0;
}
