import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bytesToBase64 } from './base64.ts';

describe('bytesToBase64', () => {
  it.each([0, 1, 2, 3, 0x7fff, 0x8000, 0x8001, 64 * 1024, 200_001])('encodes %i bytes', (size) => {
    const bytes = new Uint8Array(randomBytes(size));
    const expected = Buffer.from(bytes).toString('base64');
    expect(bytesToBase64(bytes)).toBe(expected);
    // Without Uint8Array.prototype.toBase64 (runtimes that lack it): the block-wise fallback.
    Object.defineProperty(bytes, 'toBase64', { value: undefined });
    expect(bytesToBase64(bytes)).toBe(expected);
    expect(bytesToBase64(bytes.subarray(1))).toBe(Buffer.from(bytes.subarray(1)).toString('base64'));
  });
});
