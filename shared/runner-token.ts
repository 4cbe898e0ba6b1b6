import { SignJWT, importJWK, jwtVerify, type JWK, type CryptoKey } from 'jose';

/** Lifetime of an edge→runner token; DESIGN.md caps it at 60 s. */
export const RUNNER_TOKEN_TTL_S = 60;
const ISSUER = 'edgerunner-edge';

/** How edge and runners agree on a key: a shared HS256 secret, or an Ed25519 key pair (JWK). */
export type RunnerKey = { secret: string } | { jwk: JWK };

async function keyFor(key: RunnerKey): Promise<{ key: Uint8Array | CryptoKey; alg: 'HS256' | 'EdDSA' }> {
  if ('secret' in key) return { key: new TextEncoder().encode(key.secret), alg: 'HS256' };
  return { key: (await importJWK(key.jwk, 'EdDSA')) as CryptoKey, alg: 'EdDSA' };
}

/**
 * Signs short-lived tokens whose audience is a runner id. A token is reused
 * until 15 s before it expires, so signing stays off the hot path.
 */
export function createRunnerSigner(key: RunnerKey, { ttlSeconds = RUNNER_TOKEN_TTL_S } = {}) {
  const cache = new Map<string, { token: string; renewAt: number }>();
  const material = keyFor(key);
  return async function sign(audience: string): Promise<string> {
    const now = Date.now();
    const hit = cache.get(audience);
    if (hit && hit.renewAt > now) return hit.token;
    const { key: k, alg } = await material;
    const token = await new SignJWT({})
      .setProtectedHeader({ alg })
      .setIssuer(ISSUER)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .sign(k);
    cache.set(audience, { token, renewAt: now + Math.max(1, ttlSeconds - 15) * 1000 });
    return token;
  };
}

/**
 * Verifies tokens addressed to `runnerId`: signature, `aud`, `iss`, `exp`
 * (at most 60 s after `iat`). Verified tokens are remembered until they expire.
 */
export function createRunnerVerifier(key: RunnerKey, runnerId: string) {
  const verified = new Map<string, number>();
  const material = keyFor(key);
  return async function verify(token: string): Promise<boolean> {
    const now = Date.now();
    const exp = verified.get(token);
    if (exp !== undefined) {
      if (exp > now) return true;
      verified.delete(token);
      return false;
    }
    const { key: k, alg } = await material;
    try {
      const { payload } = await jwtVerify(token, k, {
        algorithms: [alg],
        audience: runnerId,
        issuer: ISSUER,
        requiredClaims: ['exp', 'iat'],
      });
      if (payload.exp! - payload.iat! > RUNNER_TOKEN_TTL_S) return false;
      if (verified.size > 10_000) verified.clear();
      verified.set(token, payload.exp! * 1000);
      return true;
    } catch {
      return false;
    }
  };
}
