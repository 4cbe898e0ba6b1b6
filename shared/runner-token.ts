import { SignJWT, base64url, compactVerify, importJWK, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { timingSafeEqual } from './ids.ts';

/** Lifetime of an edge→runner token: 30 s; DESIGN.md caps it at 60 s. */
export const RUNNER_TOKEN_TTL_S = 30;
/** The longest lifetime a runner accepts (DESIGN.md). */
export const RUNNER_TOKEN_MAX_TTL_S = 60;
const ISSUER = 'edgerunner-edge';
const HS256_HEADER = base64url.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

/** How edge and runners agree on a key: a shared HS256 secret, or an Ed25519 key pair (JWK). */
export type RunnerKey = { secret: string } | { jwk: JWK };

/** The one call a token is good for: its method and its rpc path with the query (`/_runner/v1/chat`). */
export interface RunnerCall {
  method: string;
  path: string;
}

/**
 * HMAC-SHA-256 of a JWT's signing input, base64url: what an HS256 token is
 * signed with. Every call signs (edge) and verifies (runner) one, so a runtime
 * can hand in a faster one than WebCrypto's (Node's `createHmac` takes ~3 µs
 * where `crypto.subtle.sign` takes ~37 µs there).
 */
export type Hs256 = (signingInput: string) => string | Promise<string>;

export interface RunnerTokenOptions {
  /** The HMAC for `{ secret }` keys; default WebCrypto. */
  hs256?: Hs256;
}

/** WebCrypto's HMAC-SHA-256 over `secret`, imported once. */
function webCryptoHs256(secret: string): Hs256 {
  const key = crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  return async (input) =>
    base64url.encode(new Uint8Array(await crypto.subtle.sign('HMAC', await key, new TextEncoder().encode(input))));
}

/**
 * Signs one token per call: `aud` = runner id, `htm`/`htu` = the call's
 * method and path, a fresh `jti` (the runner refuses it a second time), and
 * `exp` `ttlSeconds` (default 30 s) after `iat`.
 */
export function createRunnerSigner(
  key: RunnerKey,
  { ttlSeconds = RUNNER_TOKEN_TTL_S, hs256 }: { ttlSeconds?: number } & RunnerTokenOptions = {},
) {
  const claims = (audience: string, call: RunnerCall) => {
    const iat = Math.floor(Date.now() / 1000);
    return {
      htm: call.method.toUpperCase(),
      htu: call.path,
      iss: ISSUER,
      aud: audience,
      jti: crypto.randomUUID(),
      iat,
      exp: iat + ttlSeconds,
    };
  };
  if ('secret' in key) {
    const mac = hs256 ?? webCryptoHs256(key.secret);
    return async function sign(audience: string, call: RunnerCall): Promise<string> {
      const input = `${HS256_HEADER}.${base64url.encode(JSON.stringify(claims(audience, call)))}`;
      return `${input}.${await mac(input)}`;
    };
  }
  const material = importJWK(key.jwk, 'EdDSA') as Promise<CryptoKey>;
  return async function sign(audience: string, call: RunnerCall): Promise<string> {
    return new SignJWT(claims(audience, call)).setProtectedHeader({ alg: 'EdDSA' }).sign(await material);
  };
}

export interface RunnerVerifierOptions extends RunnerTokenOptions {
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
  { clockToleranceS = 5, maxRemembered = 1_000_000, hs256 }: RunnerVerifierOptions = {},
) {
  /** jti → expiry (ms), in insertion order; tokens share one lifetime, so the oldest expire first. */
  const seen = new Map<string, number>();
  const forget = (now: number) => {
    for (const [jti, exp] of seen) {
      if (exp > now) break;
      seen.delete(jti);
    }
  };
  const payloadOf = 'secret' in key ? hs256Payload(hs256 ?? webCryptoHs256(key.secret)) : eddsaPayload(key.jwk);
  return async function verify(token: string, call: RunnerCall): Promise<boolean> {
    const payload = await payloadOf(token).catch(() => undefined);
    if (!payload) return false;
    const { exp, iat, jti, htm, htu, iss, aud } = payload;
    const now = Date.now();
    if (typeof exp !== 'number' || typeof iat !== 'number' || typeof jti !== 'string') return false;
    if (iss !== ISSUER || aud !== runnerId) return false;
    if (exp - iat > RUNNER_TOKEN_MAX_TTL_S || (exp + clockToleranceS) * 1000 <= now) return false;
    if ((iat - clockToleranceS) * 1000 > now) return false;
    if (htm !== call.method.toUpperCase() || htu !== call.path) return false;
    forget(now);
    if (seen.has(jti) || seen.size >= maxRemembered) return false;
    seen.set(jti, (exp + clockToleranceS) * 1000);
    return true;
  };
}

/** The payload of an HS256 token whose header and signature check out; else undefined. */
function hs256Payload(mac: Hs256) {
  return async (token: string): Promise<JWTPayload | undefined> => {
    const dot = token.lastIndexOf('.');
    const first = token.indexOf('.');
    if (first === -1 || dot === first) return undefined;
    const header = token.slice(0, first);
    if (header !== HS256_HEADER && decodeJson(header)?.alg !== 'HS256') return undefined;
    if (!timingSafeEqual(await mac(token.slice(0, dot)), token.slice(dot + 1))) return undefined;
    return decodeJson(token.slice(first + 1, dot));
  };
}

function decodeJson(part: string): JWTPayload | undefined {
  const value: unknown = JSON.parse(new TextDecoder().decode(base64url.decode(part)));
  return value && typeof value === 'object' ? (value as JWTPayload) : undefined;
}

/** The payload of an EdDSA token whose signature checks out (jose); claims are checked by the caller. */
function eddsaPayload(jwk: JWK) {
  const material = importJWK(jwk, 'EdDSA') as Promise<CryptoKey>;
  return async (token: string): Promise<JWTPayload> => {
    const { payload } = await compactVerify(token, await material, { algorithms: ['EdDSA'] });
    return JSON.parse(new TextDecoder().decode(payload)) as JWTPayload;
  };
}
