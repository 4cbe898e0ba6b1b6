const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const CODES = Uint8Array.from(ALPHABET, (ch) => ch.charCodeAt(0));
const PAD = '='.charCodeAt(0);
const ascii = new TextDecoder();

type WithToBase64 = Uint8Array & { toBase64?: () => string };

/**
 * Bytes as standard base64 text in ASCII bytes: one pass with a lookup table (no strings built per byte), so
 * an SSE event can carry it without another conversion.
 */
export function base64Ascii(bytes: Uint8Array): Uint8Array {
  const length = bytes.length;
  const out = new Uint8Array(Math.ceil(length / 3) * 4);
  const whole = length - (length % 3);
  let o = 0;
  for (let i = 0; i < whole; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o] = CODES[v >>> 18]!;
    out[o + 1] = CODES[(v >>> 12) & 63]!;
    out[o + 2] = CODES[(v >>> 6) & 63]!;
    out[o + 3] = CODES[v & 63]!;
    o += 4;
  }
  if (length % 3 === 1) {
    const v = bytes[whole]!;
    out[o] = CODES[v >>> 2]!;
    out[o + 1] = CODES[(v & 3) << 4]!;
    out[o + 2] = out[o + 3] = PAD;
  } else if (length % 3 === 2) {
    const v = (bytes[whole]! << 8) | bytes[whole + 1]!;
    out[o] = CODES[v >>> 10]!;
    out[o + 1] = CODES[(v >>> 4) & 63]!;
    out[o + 2] = CODES[(v & 15) << 2]!;
    out[o + 3] = PAD;
  }
  return out;
}

/**
 * Bytes as standard base64. Uses `Uint8Array.prototype.toBase64` where the runtime has it; elsewhere the
 * table encoder above, decoded as ASCII (measured ~15× faster here than `btoa` over `String.fromCharCode` blocks).
 */
export function bytesToBase64(bytes: Uint8Array): string {
  const native = (bytes as WithToBase64).toBase64;
  if (typeof native === 'function') return native.call(bytes);
  return ascii.decode(base64Ascii(bytes));
}
