import type { RgbImage } from '../ocr/line-crops.ts';

/** An RGB image (interleaved bytes) as the VAE encoder's input: planar `[3, H, W]`, scaled to [−1, 1]. */
export function rgbToVaeInput(image: RgbImage): Float32Array {
  const plane = image.width * image.height;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    out[p] = image.data[p * 3]! / 127.5 - 1;
    out[plane + p] = image.data[p * 3 + 1]! / 127.5 - 1;
    out[2 * plane + p] = image.data[p * 3 + 2]! / 127.5 - 1;
  }
  return out;
}

/** The VAE decoder's output (planar `[3, H, W]` in [−1, 1]) as interleaved RGB bytes, clamped. */
export function vaeOutputToRgb(sample: Float32Array, width: number, height: number): RgbImage {
  const plane = width * height;
  const data = Buffer.allocUnsafe(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = (sample[c * plane + p]! + 1) * 127.5;
      data[p * 3 + c] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  }
  return { data, width, height };
}
