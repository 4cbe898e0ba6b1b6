import { createHmac } from 'node:crypto';
import type { Hs256, RunnerKey } from '../shared/runner-token.ts';

/** Node's HMAC-SHA-256 for `{ secret }` runner keys (~10× faster per token than WebCrypto here); else undefined. */
export function nodeHs256(key: RunnerKey): Hs256 | undefined {
  if (!('secret' in key)) return undefined;
  const { secret } = key;
  return (input) => createHmac('sha256', secret).update(input).digest('base64url');
}
