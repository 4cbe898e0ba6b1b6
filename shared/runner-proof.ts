import { base64url } from 'jose';
import { timingSafeEqual } from './ids.ts';

/** What a challenge looks like on the wire (base64url, 22–128 characters); the edge sends 32 random bytes. */
export const RUNNER_CHALLENGE = /^[A-Za-z0-9_-]{22,128}$/;

/** What a runner proves at registration: that the runner answering at `url` as `id` holds the credential. */
export interface RunnerClaim {
  challenge: string;
  id: string;
  /** The runner's own public URL (the one it announces), trailing slashes ignored. */
  url: string;
}

/** A fresh challenge for one registration. */
export function newRunnerChallenge(): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(32)));
}

/**
 * HMAC-SHA-256 (WebCrypto), keyed with the runner's registration credential,
 * over `[challenge, id, url]` as JSON; base64url. The URL is the runner's
 * own, so a server relaying another runner's health cannot pass its proof off
 * as one for the relay's URL.
 */
export async function runnerProof(credential: string, { challenge, id, url }: RunnerClaim): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', enc.encode(credential), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  const message = JSON.stringify([challenge, id, url.replace(/\/+$/, '')]);
  return base64url.encode(new Uint8Array(await crypto.subtle.sign('HMAC', key, enc.encode(message))));
}

/** Whether `proof` is the runner's proof of `claim` under `credential` (compared in constant time). */
export async function checkRunnerProof(credential: string, claim: RunnerClaim, proof: unknown): Promise<boolean> {
  return typeof proof === 'string' && timingSafeEqual(await runnerProof(credential, claim), proof);
}
