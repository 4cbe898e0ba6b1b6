import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { base64Ascii, base64PartsInto, bytesToBase64, nativeBase64 } from './base64.ts';

describe('bytesToBase64', () => {
  it.each([0, 1, 2, 3, 0x7fff, 0x8000, 0x8001, 64 * 1024, 200_001])('encodes %i bytes', (size) => {
    const bytes = new Uint8Array(randomBytes(size));
    const expected = Buffer.from(bytes).toString('base64');
    expect(nativeBase64).toBeDefined(); // Node: Buffer
    expect(bytesToBase64(bytes)).toBe(expected);
    // Without a native encoder (plain workerd): the table encoder.
    expect(bytesToBase64(bytes, undefined)).toBe(expected);
    expect(new TextDecoder().decode(base64Ascii(bytes))).toBe(expected);
    const tail = bytes.subarray(1);
    expect(bytesToBase64(tail)).toBe(Buffer.from(tail).toString('base64'));
    expect(bytesToBase64(tail, undefined)).toBe(Buffer.from(tail).toString('base64'));
  });
});

describe('base64PartsInto', () => {
  it.each([[[0]], [[1, 1, 1]], [[1, 2]], [[2, 2, 2, 2]], [[5, 0, 7, 1, 64 * 1024 + 1, 2]], [[100_000, 100_001]]])(
    'encodes parts of sizes %j as their concatenation',
    (sizes) => {
      const parts = sizes.map((n) => new Uint8Array(randomBytes(n)));
      const expected = Buffer.concat(parts).toString('base64');
      for (const native of [nativeBase64, undefined]) {
        const out = new Uint8Array(expected.length + 8);
        const written = base64PartsInto(parts, out, native);
        expect(written).toBe(expected.length);
        expect(new TextDecoder().decode(out.subarray(0, written))).toBe(expected);
      }
    },
  );
});
