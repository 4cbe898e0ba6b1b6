const BLOCK = 0x8000;

type WithToBase64 = Uint8Array & { toBase64?: () => string };

/**
 * Bytes as standard base64. Uses `Uint8Array.prototype.toBase64` where the runtime has it; elsewhere builds
 * the binary string in blocks of 32 KiB (one `String.fromCharCode` call each, no per-byte concatenation)
 * and hands it to `btoa`.
 */
export function bytesToBase64(bytes: Uint8Array): string {
  const native = (bytes as WithToBase64).toBase64;
  if (typeof native === 'function') return native.call(bytes);
  const parts: string[] = [];
  for (let i = 0; i < bytes.length; i += BLOCK)
    parts.push(String.fromCharCode.apply(null, bytes.subarray(i, i + BLOCK) as unknown as number[]));
  return btoa(parts.join(''));
}
