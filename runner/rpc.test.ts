import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { checkRunnerProof, newRunnerChallenge } from '../shared/runner-proof.ts';
import { createRunnerSigner } from '../shared/runner-token.ts';
import { inProcessRunner, TEST_RUNNER_KEY } from '../test/helpers/in-process-runner.ts';

describe('runner rpc auth', () => {
  const { rpc } = inProcessRunner('runner-1');
  const status = { method: 'GET', path: '/_runner/v1/status' };
  const call = (token?: string) =>
    rpc.request('/_runner/v1/status', { headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('tells its id without auth, nothing else', async () => {
    expect(await (await rpc.request('/_runner/health')).json()).toEqual({ status: 'ok', id: 'runner-1' });
    expect((await call()).status).toBe(401);
  });

  it('answers a registration challenge with a proof of its credential, id and URL', async () => {
    const proving = inProcessRunner('runner-1', TEST_RUNNER_KEY, { credential: 'registration-token' }).rpc;
    const challenge = newRunnerChallenge();
    const body = (await (await proving.request(`/_runner/health?challenge=${challenge}`)).json()) as { proof: string };
    const claim = { challenge, id: 'runner-1', url: 'http://runner-1.runner.test' };
    expect(body).toMatchObject({ status: 'ok', id: 'runner-1' });
    expect(await checkRunnerProof('registration-token', claim, body.proof)).toBe(true);
    expect(await checkRunnerProof('registration-token', { ...claim, url: 'http://relay.test' }, body.proof)).toBe(
      false,
    );
    expect(await checkRunnerProof('other-token', claim, body.proof)).toBe(false);
    expect(await (await rpc.request(`/_runner/health?challenge=${challenge}`)).json()).not.toHaveProperty('proof');
    expect((await proving.request('/_runner/health?challenge=short')).status).toBe(400);
  });

  it('serves calls signed by the edge for this runner', async () => {
    const res = await call(await createRunnerSigner(TEST_RUNNER_KEY)('runner-1', status));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: 'runner-1', capacity: 2, busy: 0, loadedModels: [] });
  });

  it('refuses tokens for another runner, expired, with another key, or unsigned', async () => {
    expect((await call(await createRunnerSigner(TEST_RUNNER_KEY)('runner-2', status))).status).toBe(401);
    expect((await call(await createRunnerSigner({ secret: 'some-other-secret-xyz' })('runner-1', status))).status).toBe(
      401,
    );
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('edgerunner-edge')
      .setAudience('runner-1')
      .setIssuedAt(now - 100)
      .setExpirationTime(now - 40)
      .sign(new TextEncoder().encode((TEST_RUNNER_KEY as { secret: string }).secret));
    const res = await call(expired);
    expect(res.status).toBe(401);
    expect((await res.json()).error.code).toBe('invalid_runner_token');
    expect((await call('eyJhbGciOiJub25lIn0.eyJhdWQiOiJydW5uZXItMSJ9.')).status).toBe(401);
  });

  it('refuses a token signed for another call, or used a second time', async () => {
    const sign = createRunnerSigner(TEST_RUNNER_KEY);
    expect((await call(await sign('runner-1', { method: 'POST', path: '/_runner/v1/chat' }))).status).toBe(401);
    expect((await call(await sign('runner-1', { method: 'GET', path: '/_runner/v1/models' }))).status).toBe(401);
    const token = await sign('runner-1', status);
    expect((await call(token)).status).toBe(200);
    expect((await call(token)).status).toBe(401);
  });

  it('binds the query too', async () => {
    const sign = createRunnerSigner(TEST_RUNNER_KEY);
    const path = '/_runner/v1/status?x=1';
    const get = async (signed: string) =>
      rpc.request(path, {
        headers: { authorization: `Bearer ${await sign('runner-1', { method: 'GET', path: signed })}` },
      });
    expect((await get('/_runner/v1/status')).status).toBe(401);
    expect((await get(path)).status).toBe(200);
  });
});
