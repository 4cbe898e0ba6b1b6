import { SignJWT, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { createRunnerSigner, createRunnerVerifier, type RunnerCall } from '../shared/runner-token.ts';
import { nodeHs256 } from './node-hs256.ts';

const key = { secret: 'a-test-runner-secret-of-some-length' };
const call: RunnerCall = { method: 'GET', path: '/_runner/v1/models' };
const raw = new TextEncoder().encode(key.secret);

describe('HS256 runner tokens with Node’s HMAC', () => {
  it('are standard JWTs: Node- and WebCrypto-signed tokens verify either way and with jose', async () => {
    const node = { hs256: nodeHs256(key) };
    const signers = [createRunnerSigner(key), createRunnerSigner(key, node)];
    for (const sign of signers) {
      for (const options of [{}, node]) {
        expect(await createRunnerVerifier(key, 'r', options)(await sign('r', call), call)).toBe(true);
      }
      const { payload } = await jwtVerify(await sign('r', call), raw, { audience: 'r', issuer: 'edgerunner-edge' });
      expect(payload).toMatchObject({ htm: 'GET', htu: call.path });
    }
  });

  it('accepts a token jose signed with the same claims, refuses a tampered one', async () => {
    const verify = createRunnerVerifier(key, 'r', { hs256: nodeHs256(key) });
    const jose = await new SignJWT({ htm: 'GET', htu: call.path })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('edgerunner-edge')
      .setAudience('r')
      .setJti('abc')
      .setIssuedAt()
      .setExpirationTime('30s')
      .sign(raw);
    expect(await verify(jose, call)).toBe(true);
    const [h, p, s] = (await createRunnerSigner(key)('r', call)).split('.');
    // The same signature over a payload re-targeted at another call.
    const chat = { method: 'POST', path: '/_runner/v1/chat' };
    const claims = JSON.parse(atob(p!.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;
    const forged = btoa(JSON.stringify({ ...claims, htm: chat.method, htu: chat.path }));
    const b64url = forged.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    expect(await verify(`${h}.${b64url}.${s}`, chat)).toBe(false);
  });

  it('is for shared secrets only', () => {
    expect(nodeHs256({ jwk: { kty: 'OKP' } })).toBeUndefined();
  });
});
