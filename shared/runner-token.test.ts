import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { createRunnerSigner, createRunnerVerifier, type RunnerKey } from './runner-token.ts';

const secret: RunnerKey = { secret: 'a-test-runner-secret-of-some-length' };

describe('edge→runner tokens', () => {
  it('HS256: a token for the runner verifies, for another runner does not', async () => {
    const sign = createRunnerSigner(secret);
    const token = await sign('runner-a');
    expect(await createRunnerVerifier(secret, 'runner-a')(token)).toBe(true);
    expect(await createRunnerVerifier(secret, 'runner-b')(token)).toBe(false);
    expect(await createRunnerVerifier({ secret: 'another-secret-entirely-xx' }, 'runner-a')(token)).toBe(false);
  });

  it('EdDSA: signed with the private key, verified with the public one', async () => {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
    const sign = createRunnerSigner({ jwk: await exportJWK(privateKey) });
    const verify = createRunnerVerifier({ jwk: await exportJWK(publicKey) }, 'r1');
    expect(await verify(await sign('r1'))).toBe(true);
    expect(await verify(await createRunnerSigner(secret)('r1'))).toBe(false);
  });

  it('reuses a token while it is fresh', async () => {
    const sign = createRunnerSigner(secret);
    expect(await sign('r')).toBe(await sign('r'));
  });

  it('refuses expired tokens, tokens living longer than 60 s, alg none and garbage', async () => {
    const key = new TextEncoder().encode(secret.secret);
    const verify = createRunnerVerifier(secret, 'r');
    const base = () => new SignJWT({}).setIssuer('edgerunner-edge').setAudience('r');
    const now = Math.floor(Date.now() / 1000);
    const expired = await base()
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(now - 120)
      .setExpirationTime(now - 60)
      .sign(key);
    const tooLong = await base()
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(key);
    const none =
      btoa(JSON.stringify({ alg: 'none', typ: 'JWT' })).replace(/=+$/, '') +
      '.' +
      btoa(JSON.stringify({ aud: 'r', iss: 'edgerunner-edge', exp: now + 30, iat: now })).replace(/=+$/, '') +
      '.';
    expect(await verify(expired)).toBe(false);
    expect(await verify(tooLong)).toBe(false);
    expect(await verify(none)).toBe(false);
    expect(await verify('not.a.token')).toBe(false);
  });
});
