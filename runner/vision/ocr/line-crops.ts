import type { Quad } from './geometry.ts';

/** Pixels as `height` rows of `width` RGB triples. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** The recognition model's input height. */
export const LINE_HEIGHT = 48;

/** Text taller than wide by this much is turned a quarter (PaddleOCR's rule for vertical lines). */
const VERTICAL_RATIO = 1.5;
/** Most samples per output pixel side when shrinking (k × k averaged: no aliasing of large text). */
const MAX_SUPERSAMPLE = 4;

/** A text line to read: where it lies in the image, and the frame it is sampled along. */
export interface LineFrame {
  /** The corner the line's first character starts at. */
  origin: [number, number];
  /** Along the text, the line's full length. */
  along: [number, number];
  /** Across the text (downwards for upright text), the line's full height. */
  across: [number, number];
  /** The line's width at LINE_HEIGHT pixels high, at least 1. */
  width: number;
}

const sub = (a: [number, number], b: [number, number]): [number, number] => [a[0] - b[0], a[1] - b[1]];
const length = (v: [number, number]) => Math.hypot(v[0], v[1]);

/**
 * The frame of a quad (top-left, top-right, bottom-right, bottom-left) for reading: along its top edge, or, for
 * a quad much taller than wide, turned a quarter counter-clockwise (read from its top-right corner downwards).
 */
export function lineFrame(quad: Quad): LineFrame {
  const [p0, p1, , p3] = quad;
  let origin: [number, number] = [p0[0], p0[1]];
  let along = sub(p1, p0);
  let across = sub(p3, p0);
  if (length(across) >= VERTICAL_RATIO * length(along)) {
    origin = [p1[0], p1[1]];
    [along, across] = [across, sub(p0, p1)];
  }
  const ratio = length(along) / Math.max(1e-6, length(across));
  return { origin, along, across, width: Math.max(1, Math.ceil(LINE_HEIGHT * ratio)) };
}

/**
 * Samples the line into item `index` of a `[N, 3, LINE_HEIGHT, batchWidth]` tensor: its first `frame.width`
 * columns (capped at batchWidth), the rest left as they are (0, the padding). Bilinear, averaged over k × k
 * samples per pixel when the line is shrunk k times; channels B, G, R scaled to -1…1, as PaddleOCR feeds
 * its recognition models (images read by OpenCV, `(x / 255 - 0.5) / 0.5`).
 */
export function sampleLine(image: RgbImage, frame: LineFrame, out: Float32Array, index: number, batchWidth: number) {
  const { data, width: iw, height: ih } = image;
  const width = Math.min(frame.width, batchWidth);
  const [ox, oy] = frame.origin;
  const [ax, ay] = frame.along;
  const [cx, cy] = frame.across;
  const shrink = Math.max(length(frame.across) / LINE_HEIGHT, length(frame.along) / width);
  const k = Math.min(MAX_SUPERSAMPLE, Math.max(1, Math.ceil(shrink - 0.25)));
  const plane = LINE_HEIGHT * batchWidth;
  const base = index * 3 * plane;
  const norm = 1 / (127.5 * k * k);
  for (let v = 0; v < LINE_HEIGHT; v++) {
    for (let u = 0; u < width; u++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let sv = 0; sv < k; sv++) {
        const t = (v + (sv + 0.5) / k) / LINE_HEIGHT;
        for (let su = 0; su < k; su++) {
          const s = (u + (su + 0.5) / k) / width;
          // Pixel centres at integer + 0.5: the sample between the four nearest.
          const x = ox + s * ax + t * cx - 0.5;
          const y = oy + s * ay + t * cy - 0.5;
          const x0 = Math.floor(x);
          const y0 = Math.floor(y);
          const fx = x - x0;
          const fy = y - y0;
          const xa = x0 < 0 ? 0 : x0 >= iw ? iw - 1 : x0;
          const xb = x0 + 1 < 0 ? 0 : x0 + 1 >= iw ? iw - 1 : x0 + 1;
          const ya = y0 < 0 ? 0 : y0 >= ih ? ih - 1 : y0;
          const yb = y0 + 1 < 0 ? 0 : y0 + 1 >= ih ? ih - 1 : y0 + 1;
          const i00 = (ya * iw + xa) * 3;
          const i01 = (ya * iw + xb) * 3;
          const i10 = (yb * iw + xa) * 3;
          const i11 = (yb * iw + xb) * 3;
          const w00 = (1 - fx) * (1 - fy);
          const w01 = fx * (1 - fy);
          const w10 = (1 - fx) * fy;
          const w11 = fx * fy;
          r += data[i00]! * w00 + data[i01]! * w01 + data[i10]! * w10 + data[i11]! * w11;
          g += data[i00 + 1]! * w00 + data[i01 + 1]! * w01 + data[i10 + 1]! * w10 + data[i11 + 1]! * w11;
          b += data[i00 + 2]! * w00 + data[i01 + 2]! * w01 + data[i10 + 2]! * w10 + data[i11 + 2]! * w11;
        }
      }
      const at = base + v * batchWidth + u;
      out[at] = b * norm - 1;
      out[at + plane] = g * norm - 1;
      out[at + 2 * plane] = r * norm - 1;
    }
  }
}
