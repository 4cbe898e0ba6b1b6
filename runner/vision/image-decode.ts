import sharp from 'sharp';
import { AppError } from '../../shared/errors.ts';
import type { RgbImage } from './ocr/line-crops.ts';

/** Most pixels an input image may have (a 100-megapixel photo is fine; a decompression bomb is not). */
export const MAX_IMAGE_PIXELS = 100_000_000;

const FORMATS = new Set(['png', 'jpeg', 'webp']);

/**
 * An encoded PNG, JPEG or WebP image as RGB pixels (sharp): EXIF orientation applied, transparency flattened
 * onto white, any colour space turned into sRGB. Anything else, a corrupt image or one over `maxPixels` is a
 * 400 naming `param`.
 */
export async function decodeImage(
  bytes: Uint8Array,
  { param = 'image', maxPixels = MAX_IMAGE_PIXELS }: { param?: string; maxPixels?: number } = {},
): Promise<RgbImage> {
  const bad = (why: string) => new AppError(400, `${param}: ${why}`, { param, code: 'invalid_image' });
  let format: string | undefined;
  try {
    // The header first (no pixel limit there, so an oversized image is named as such), then the pixels.
    const meta = await sharp(bytes, { limitInputPixels: false }).metadata();
    format = meta.format;
    if (!format || !FORMATS.has(format))
      throw bad(`unsupported image format ${format ?? 'unknown'}; use PNG, JPEG or WebP`);
    if ((meta.width ?? 0) * (meta.height ?? 0) > maxPixels)
      throw bad(`the image has ${meta.width}×${meta.height} pixels, more than ${maxPixels}`);
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' })
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw bad(`decoded to ${info.channels} channels, expected 3`);
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
    };
  } catch (err) {
    if (err instanceof AppError) throw err;
    const message = (err as Error).message ?? String(err);
    throw bad(
      format ? `corrupt ${format.toUpperCase()} image (${message})` : `not a PNG, JPEG or WebP image (${message})`,
    );
  }
}

/** `image` scaled to exactly `width` × `height` (linear kernel), as RGB pixels. */
export async function resizeImage(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (image.width === width && image.height === height) return image;
  const { data } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height };
}
