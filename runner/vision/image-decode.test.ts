import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import { decodeImage, MAX_IMAGE_PIXELS, resizeImage } from './image-decode.ts';

const W = 40;
const H = 30;

/** RGB pixels: the left half red, the right half blue. */
function halves(width = W, height = H): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      if (x < width / 2) data[i] = 255;
      else data[i + 2] = 255;
    }
  }
  return data;
}

/** Deterministic noise (hard to compress, so a truncated file loses pixel data). */
function noise(width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height * 3);
  let s = 12345;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  return data;
}

const raw = (data: Buffer, width = W, height = H, channels: 3 | 4 = 3) =>
  sharp(data, { raw: { width, height, channels } });

const pixel = (image: { data: Uint8Array; width: number }, x: number, y: number) => {
  const i = (y * image.width + x) * 3;
  return [image.data[i], image.data[i + 1], image.data[i + 2]];
};

/** The AppError `promise` rejects with. */
async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('decodeImage', () => {
  it('decodes a PNG with alpha to RGB, transparent pixels white', async () => {
    // Left half opaque green, right half fully transparent red.
    const rgba = Buffer.alloc(W * H * 4);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = (y * W + x) * 4;
        if (x < W / 2) rgba.set([0, 200, 0, 255], i);
        else rgba.set([255, 0, 0, 0], i);
      }
    }
    const png = await raw(rgba, W, H, 4).png().toBuffer();
    expect((await sharp(png).metadata()).hasAlpha).toBe(true);
    const image = await decodeImage(png);
    expect(image.width).toBe(W);
    expect(image.height).toBe(H);
    expect(image.data).toBeInstanceOf(Uint8Array);
    expect(image.data.length).toBe(W * H * 3);
    expect(pixel(image, 0, 0)).toEqual([0, 200, 0]);
    expect(pixel(image, W / 2 - 1, H - 1)).toEqual([0, 200, 0]);
    expect(pixel(image, W / 2, 0)).toEqual([255, 255, 255]);
    expect(pixel(image, W - 1, H - 1)).toEqual([255, 255, 255]);
  });

  it('decodes a PNG without alpha exactly', async () => {
    const png = await raw(halves()).png().toBuffer();
    const image = await decodeImage(png);
    expect(Buffer.from(image.data)).toEqual(halves());
  });

  it.each([
    ['JPEG', (s: Sharp) => s.jpeg({ quality: 95 })],
    ['WebP', (s: Sharp) => s.webp({ quality: 95 })],
  ])('decodes a %s to RGB', async (_name, encode) => {
    const bytes = await encode(raw(halves())).toBuffer();
    const image = await decodeImage(new Uint8Array(bytes));
    expect(image).toMatchObject({ width: W, height: H });
    expect(image.data.length).toBe(W * H * 3);
    // Lossy, but red stays red and blue stays blue away from the edge.
    const [r1, g1, b1] = pixel(image, 5, 15) as number[];
    expect(r1).toBeGreaterThan(200);
    expect(g1).toBeLessThan(60);
    expect(b1).toBeLessThan(60);
    const [r2, g2, b2] = pixel(image, W - 5, 15) as number[];
    expect(r2).toBeLessThan(60);
    expect(g2).toBeLessThan(60);
    expect(b2).toBeGreaterThan(200);
  });

  it('applies the EXIF orientation', async () => {
    // Stored 40×30, tagged "rotate 90° clockwise": shown 30×40.
    const jpeg = await raw(halves()).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const image = await decodeImage(jpeg);
    expect(image).toMatchObject({ width: H, height: W });
    expect(image.data.length).toBe(W * H * 3);
  });

  it('refuses a GIF, naming the formats it takes', async () => {
    const gif = await raw(halves()).gif().toBuffer();
    const err = await refusal(decodeImage(gif));
    expect(err.status).toBe(400);
    expect(err.param).toBe('image');
    expect(err.code).toBe('invalid_image');
    expect(err.message.startsWith('image:')).toBe(true);
    expect(err.message).toMatch(/gif/i);
    for (const format of ['PNG', 'JPEG', 'WebP']) expect(err.message).toContain(format);
  });

  it('refuses bytes that are no image', async () => {
    const bytes = new Uint8Array(noise(30, 30).subarray(0, 2000));
    const err = await refusal(decodeImage(bytes));
    expect(err.status).toBe(400);
    expect(err.param).toBe('image');
    expect(err.message.startsWith('image:')).toBe(true);
    await expect(decodeImage(new Uint8Array(0))).rejects.toMatchObject({ status: 400, param: 'image' });
  });

  it('refuses a truncated PNG', async () => {
    const png = await raw(noise(200, 150), 200, 150).png().toBuffer();
    expect((await decodeImage(png)).width).toBe(200); // whole, it decodes
    const err = await refusal(decodeImage(png.subarray(0, png.length >> 1)));
    expect(err.status).toBe(400);
    expect(err.param).toBe('image');
    expect(err.message.startsWith('image:')).toBe(true);
  });

  it('refuses an image over maxPixels, naming the param', async () => {
    const png = await raw(halves()).png().toBuffer(); // 1200 pixels
    const err = await refusal(decodeImage(png, { param: 'config.image', maxPixels: 100 }));
    expect(err.status).toBe(400);
    expect(err.param).toBe('config.image');
    expect(err.code).toBe('invalid_image');
    expect(err.message).toBe(`config.image: the image has ${W}×${H} pixels, more than 100`);
    // At the limit it decodes.
    expect((await decodeImage(png, { maxPixels: W * H })).width).toBe(W);
    expect(MAX_IMAGE_PIXELS).toBe(100_000_000);
  });
});

describe('resizeImage', () => {
  it('scales to exactly the size asked for', async () => {
    const image = await decodeImage(await raw(halves()).png().toBuffer());
    const small = await resizeImage(image, 20, 10);
    expect(small).toMatchObject({ width: 20, height: 10 });
    expect(small.data).toBeInstanceOf(Uint8Array);
    expect(small.data.length).toBe(600);
    expect(pixel(small, 2, 5)).toEqual([255, 0, 0]);
    expect(pixel(small, 17, 5)).toEqual([0, 0, 255]);
    const big = await resizeImage(image, 80, 45);
    expect(big.data.length).toBe(80 * 45 * 3);
  });

  it('returns the image itself when it already has that size', async () => {
    const image = { data: new Uint8Array(halves()), width: W, height: H };
    expect(await resizeImage(image, W, H)).toBe(image);
  });
});
