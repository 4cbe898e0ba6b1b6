import { SignJWT, importJWK, jwtVerify, type JWK, type CryptoKey } from 'jose';
import { randomAlphanumeric } from './ids.ts';

/** Lifetime of an edge→runner token: 30 s; DESIGN.md caps it at 60 s. */
export const RUNNER_TOKEN_TTL_S = 30;
/** The longest lifetime a runner accepts (DESIGN.md). */
export const RUNNER_TOKEN_MAX_TTL_S = 60;
const ISSUER = 'edgerunner-edge';

/** How edge and runners agree on a key: a shared HS256 secret, or an Ed25519 key pair (JWK). */
export type RunnerKey = { secret: string } | { jwk: JWK };

/** The one call a token is good for: its method and its rpc path with the query (`/_runner/v1/chat`). */
export interface RunnerCall {
  method: string;
  path: string;
}

async function keyFor(key: RunnerKey): Promise<{ key: Uint8Array | CryptoKey; alg: 'HS256' | 'EdDSA' }> {
  if ('secret' in key) return { key: new TextEncoder().encode(key.secret), alg: 'HS256' };
  return { key: (await importJWK(key.jwk, 'EdDSA')) as CryptoKey, alg: 'EdDSA' };
}

/**
 * Signs one token per call: `aud` = runner id, `htm`/`htu` = the call's
 * method and path, a fresh `jti` (the runner refuses it a second time), and
 * `exp` `ttlSeconds` (default 30 s) after `iat`.
 */
export function createRunnerSigner(key: RunnerKey, { ttlSeconds = RUNNER_TOKEN_TTL_S } = {}) {
  const material = keyFor(key);
  return async function sign(audience: string, call: RunnerCall): Promise<string> {
    const { key: k, alg } = await material;
    return new SignJWT({ htm: call.method.toUpperCase(), htu: call.path })
      .setProtectedHeader({ alg })
      .setIssuer(ISSUER)
      .setAudience(audience)
      .setJti(randomAlphanumeric(22))
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .sign(k);
  };
}

export interface RunnerVerifierOptions {
  /** Clock difference tolerated between edge and runner; default 5 s. */
  clockToleranceS?: number;
  /** Most token ids remembered for replay refusal; beyond it new tokens are refused; default 1,000,000. */
  maxRemembered?: number;
}

/**
 * Verifies tokens addressed to `runnerId` for the call being served:
 * signature, `aud`, `iss`, `exp` (at most 60 s after `iat`), `htm`/`htu`
 * equal to the call, and a `jti` never seen before (each id is remembered
 * until its token expires, so a replayed token is refused).
 */
export function createRunnerVerifier(
  key: RunnerKey,
  runnerId: string,
  { clockToleranceS = 5, maxRemembered = 1_000_000 }: RunnerVerifierOptions = {},
) {
  /** jti → expiry (ms), in insertion order; tokens share one lifetime, so the oldest expire first. */
  const seen = new Map<string, number>();
  const material = keyFor(key);
  const forget = (now: number) => {
    for (const [jti, exp] of seen) {
      if (exp > now) break;
      seen.delete(jti);
    }
  };
  return async function verify(token: string, call: RunnerCall): Promise<boolean> {
    const { key: k, alg } = await material;
    try {
      const { payload } = await jwtVerify(token, k, {
        algorithms: [alg],
        audience: runnerId,
        issuer: ISSUER,
        requiredClaims: ['exp', 'iat', 'jti', 'htm', 'htu'],
        clockTolerance: clockToleranceS,
      });
      if (payload.exp! - payload.iat! > RUNNER_TOKEN_MAX_TTL_S) return false;
      if (payload.htm !== call.method.toUpperCase() || payload.htu !== call.path) return false;
      const now = Date.now();
      forget(now);
      if (seen.has(payload.jti!) || seen.size >= maxRemembered) return false;
      seen.set(payload.jti!, (payload.exp! + clockToleranceS) * 1000);
      return true;
    } catch {
      return false;
    }
  };
}
