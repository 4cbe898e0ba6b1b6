import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { createRunnerSigner, createRunnerVerifier, type RunnerCall, type RunnerKey } from './runner-token.ts';

const secret: RunnerKey = { secret: 'a-test-runner-secret-of-some-length' };
const chat: RunnerCall = { method: 'POST', path: '/_runner/v1/chat' };

describe('edge→runner tokens', () => {
  it('HS256: a token for the runner verifies, for another runner does not', async () => {
    const sign = createRunnerSigner(secret);
    expect(await createRunnerVerifier(secret, 'runner-a')(await sign('runner-a', chat), chat)).toBe(true);
    expect(await createRunnerVerifier(secret, 'runner-b')(await sign('runner-a', chat), chat)).toBe(false);
    const other = createRunnerVerifier({ secret: 'another-secret-entirely-xx' }, 'runner-a');
    expect(await other(await sign('runner-a', chat), chat)).toBe(false);
  });

  it('EdDSA: signed with the private key, verified with the public one', async () => {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
    const sign = createRunnerSigner({ jwk: await exportJWK(privateKey) });
    const verify = createRunnerVerifier({ jwk: await exportJWK(publicKey) }, 'r1');
    expect(await verify(await sign('r1', chat), chat)).toBe(true);
    expect(await verify(await createRunnerSigner(secret)('r1', chat), chat)).toBe(false);
  });

  it('binds a token to its method and path', async () => {
    const sign = createRunnerSigner(secret);
    const verify = createRunnerVerifier(secret, 'r');
    expect(await verify(await sign('r', chat), { method: 'POST', path: '/_runner/v1/models/big/load' })).toBe(false);
    expect(await verify(await sign('r', chat), { method: 'GET', path: '/_runner/v1/chat' })).toBe(false);
    expect(
      await verify(await sign('r', { method: 'get', path: '/_runner/v1/status' }), {
        method: 'GET',
        path: '/_runner/v1/status',
      }),
    ).toBe(true);
  });

  it('signs a fresh token per call and refuses one seen before (replay)', async () => {
    const sign = createRunnerSigner(secret);
    const verify = createRunnerVerifier(secret, 'r');
    const token = await sign('r', chat);
    expect(await sign('r', chat)).not.toBe(token);
    expect(await verify(token, chat)).toBe(true);
    expect(await verify(token, chat)).toBe(false);
  });

  it('refuses new tokens rather than forget unexpired ones when its memory is full', async () => {
    const sign = createRunnerSigner(secret);
    const verify = createRunnerVerifier(secret, 'r', { maxRemembered: 2 });
    expect(await verify(await sign('r', chat), chat)).toBe(true);
    expect(await verify(await sign('r', chat), chat)).toBe(true);
    expect(await verify(await sign('r', chat), chat)).toBe(false);
  });

  it('refuses expired tokens, tokens living longer than 60 s, tokens without a call or jti, alg none and garbage', async () => {
    const key = new TextEncoder().encode(secret.secret);
    const verify = createRunnerVerifier(secret, 'r');
    const base = (claims: Record<string, unknown> = { htm: 'POST', htu: chat.path }) =>
      new SignJWT(claims).setIssuer('edgerunner-edge').setAudience('r').setProtectedHeader({ alg: 'HS256' });
    const now = Math.floor(Date.now() / 1000);
    const expired = await base()
      .setJti('a')
      .setIssuedAt(now - 120)
      .setExpirationTime(now - 60)
      .sign(key);
    const tooLong = await base()
      .setJti('b')
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(key);
    const noCall = await base({})
      .setJti('c')
      .setIssuedAt(now)
      .setExpirationTime(now + 30)
      .sign(key);
    const noJti = await base()
      .setIssuedAt(now)
      .setExpirationTime(now + 30)
      .sign(key);
    const none =
      btoa(JSON.stringify({ alg: 'none', typ: 'JWT' })).replace(/=+$/, '') +
      '.' +
      btoa(
        JSON.stringify({
          aud: 'r',
          iss: 'edgerunner-edge',
          exp: now + 30,
          iat: now,
          jti: 'd',
          htm: 'POST',
          htu: chat.path,
        }),
      ).replace(/=+$/, '') +
      '.';
    for (const token of [expired, tooLong, noCall, noJti, none, 'not.a.token']) {
      expect(await verify(token, chat)).toBe(false);
    }
  });
});
