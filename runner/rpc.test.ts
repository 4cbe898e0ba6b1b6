import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createRunnerSigner } from '../shared/runner-token.ts';
import { inProcessRunner, TEST_RUNNER_KEY } from '../test/helpers/in-process-runner.ts';

describe('runner rpc auth', () => {
  const { rpc } = inProcessRunner('runner-1');
  const call = (token?: string) =>
    rpc.request('/_runner/v1/status', { headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('tells its id without auth, nothing else', async () => {
    expect(await (await rpc.request('/_runner/health')).json()).toEqual({ status: 'ok', id: 'runner-1' });
    expect((await call()).status).toBe(401);
  });

  it('serves calls signed by the edge for this runner', async () => {
    const res = await call(await createRunnerSigner(TEST_RUNNER_KEY)('runner-1'));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: 'runner-1', capacity: 2, busy: 0, loadedModels: [] });
  });

  it('refuses tokens for another runner, expired, with another key, or unsigned', async () => {
    expect((await call(await createRunnerSigner(TEST_RUNNER_KEY)('runner-2'))).status).toBe(401);
    expect((await call(await createRunnerSigner({ secret: 'some-other-secret-xyz' })('runner-1'))).status).toBe(401);
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
});
