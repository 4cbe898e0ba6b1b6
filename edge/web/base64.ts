const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const CODES = Uint8Array.from(ALPHABET, (ch) => ch.charCodeAt(0));
const PAD = '='.charCodeAt(0);
const ascii = new TextDecoder();

type WithToBase64 = Uint8Array & { toBase64?: () => string };
/** The part of Node's `Buffer` used here (present on Node and under workerd's `nodejs_compat`; found at run time). */
interface BufferLike {
  from(buffer: ArrayBufferLike, byteOffset: number, length: number): { toString(encoding: 'base64'): string };
}

/** A native base64 encoder of this runtime, or undefined: `Uint8Array.prototype.toBase64`, else `Buffer`. */
function nativeEncoder(): ((bytes: Uint8Array) => string) | undefined {
  const toBase64 = (Uint8Array.prototype as WithToBase64).toBase64;
  if (typeof toBase64 === 'function') return (bytes) => toBase64.call(bytes);
  const buffer = (globalThis as { Buffer?: BufferLike }).Buffer;
  if (typeof buffer?.from === 'function')
    return (bytes) => buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  return undefined;
}

/**
 * The runtime's native encoder (simdutf on Node: ~3 GB/s, several times the table below), looked up once.
 * `undefined` in plain workerd, which has neither (the table is used there).
 */
export const nativeBase64: ((bytes: Uint8Array) => string) | undefined = nativeEncoder();

/** The base64 length of `byteLength` bytes (padded). */
export const base64Length = (byteLength: number): number => Math.ceil(byteLength / 3) * 4;

/**
 * Bytes as standard base64 text in ASCII bytes, written into `out` (at least `base64Length` long; default a new
 * array): one pass with a lookup table (no strings built per byte). The fallback where the runtime has no
 * native encoder.
 */
export function base64Ascii(
  bytes: Uint8Array,
  out: Uint8Array = new Uint8Array(base64Length(bytes.length)),
): Uint8Array {
  const length = bytes.length;
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
 * Bytes encoded natively a piece at a time: base64 of pieces whose length is a multiple of 3 concatenates to
 * the base64 of the whole. 48 KiB pieces make 64 KiB strings: on Node 24 a base64 string of 128 KiB or more
 * is made ~30× slower (187 against 6,600 MB/s measured here), so a large chunk is never one string.
 */
const NATIVE_PIECE_BYTES = 48 * 1024;
const textEncoder = new TextEncoder();

/** `bytes` as base64 ASCII written into `out` (at least `base64Length(bytes.length)` long), natively where possible. */
export function base64Into(bytes: Uint8Array, out: Uint8Array, native = nativeBase64): number {
  if (!native) {
    base64Ascii(bytes, out);
    return base64Length(bytes.length);
  }
  let o = 0;
  for (let i = 0; i < bytes.length; i += NATIVE_PIECE_BYTES) {
    o += textEncoder.encodeInto(native(bytes.subarray(i, i + NATIVE_PIECE_BYTES)), out.subarray(o)).written;
  }
  return o;
}

/**
 * The base64 of the concatenation of `parts`, written into `out` (at least `base64Length` of their total
 * length) without concatenating them: each part's bytes up to a multiple of 3 are encoded in place, and the
 * 1–2 bytes left over are joined with the start of the next part in a 3-byte bridge.
 */
export function base64PartsInto(parts: readonly Uint8Array[], out: Uint8Array, native = nativeBase64): number {
  const bridge = new Uint8Array(3);
  let carried = 0;
  let o = 0;
  for (let k = 0; k < parts.length; k++) {
    let part = parts[k]!;
    if (carried > 0) {
      const fill = part.subarray(0, 3 - carried);
      bridge.set(fill, carried);
      carried += fill.length;
      part = part.subarray(fill.length);
      if (carried < 3 && k < parts.length - 1) continue;
      o += base64Into(bridge.subarray(0, carried), out.subarray(o), native);
    }
    const whole = k === parts.length - 1 ? part.length : part.length - (part.length % 3);
    o += base64Into(part.subarray(0, whole), out.subarray(o), native);
    bridge.set(part.subarray(whole));
    carried = part.length - whole;
  }
  return o;
}

/**
 * Bytes as standard base64: the native encoder where there is one, else the table encoder decoded as ASCII
 * (measured ~15× faster here than `btoa` over `String.fromCharCode` blocks).
 */
export function bytesToBase64(bytes: Uint8Array, native = nativeBase64): string {
  return native ? native(bytes) : ascii.decode(base64Ascii(bytes));
}
