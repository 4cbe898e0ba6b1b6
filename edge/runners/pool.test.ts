import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import { createLogger } from '../../shared/log.ts';
import { createRunnerSigner, createRunnerVerifier } from '../../shared/runner-token.ts';
import { createRunnerRpc } from '../../runner/rpc.ts';
import { serveFetch, type Served } from '../../runner/serve.ts';
import { undiciTransport } from '../../runner/undici-transport.ts';
import { inProcessRunner, inProcessTransport, TEST_RUNNER_KEY } from '../../test/helpers/in-process-runner.ts';
import { localTestInference, tempDb, testApp, TINY_CATALOG } from '../../test/helpers/test-app.ts';
import { RunnerPool } from './pool.ts';
import { RemoteInference } from './remote-inference.ts';

const sign = createRunnerSigner(TEST_RUNNER_KEY);
const beat = (id: string, extra: Partial<{ loadedModels: string[]; busy: number; capacity: number }> = {}) => ({
  id,
  url: `http://${id}.runner.test`,
  loadedModels: [],
  capacity: 4,
  busy: 0,
  ...extra,
});

describe('runner pool', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const f of cleanups.splice(0)) await f();
  });

  it('prefers the runner with the model loaded, then the session’s runner, then the least busy', async () => {
    const pool = new RunnerPool({ sign, transport: inProcessTransport([]) });
    await pool.heartbeat(beat('busy', { busy: 3 }));
    await pool.heartbeat(beat('idle', { busy: 0 }));
    await pool.heartbeat(beat('affine', { busy: 2 }));
    await pool.heartbeat(beat('has-model', { busy: 4, loadedModels: ['tiny-chat'] }));
    const ids = async (hints = {}) => (await pool.candidates(hints)).map((r) => r.id);
    expect(await ids()).toEqual(['idle', 'affine', 'busy', 'has-model']);
    expect((await ids({ runnerId: 'affine' }))[0]).toBe('affine');
    expect((await ids({ model: 'tiny-chat', runnerId: 'affine' })).slice(0, 2)).toEqual(['has-model', 'affine']);
  });

  it('answers 503 with Retry-After when no runner is known', async () => {
    const pool = new RunnerPool({ sign, transport: inProcessTransport([]) });
    const err = await pool.call('/_runner/v1/models').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).status).toBe(503);
    expect((err as AppError).headers['Retry-After']).toBe('1');
  });

  it('fails over when a runner refuses the connection (real sockets)', async () => {
    const start = async (id: string): Promise<Served> => {
      const rpc = createRunnerRpc({
        runnerId: id,
        inference: localTestInference(id),
        verify: createRunnerVerifier(TEST_RUNNER_KEY, id),
        logger: createLogger('silent'),
      });
      return serveFetch(rpc.fetch, '127.0.0.1', 0);
    };
    const [a, b] = [await start('a'), await start('b')];
    cleanups.push(() => b.close());
    const pool = new RunnerPool({ urls: [a.url, b.url], sign, transport: undiciTransport(), statusTtlMs: 60_000 });
    const inference = new RemoteInference(pool);
    expect((await inference.status()).map((s) => s.id).sort()).toEqual(['a', 'b']);
    await a.close();
    // Both were healthy a moment ago; every call still lands, whichever runner it tries first.
    for (let i = 0; i < 5; i++) {
      const { response, runner } = await pool.call('/_runner/v1/models');
      expect(response.status).toBe(200);
      expect(runner.id).toBe('b');
    }
    await b.close();
    const err = await pool.call('/_runner/v1/models').catch((e: unknown) => e);
    expect((err as AppError).status).toBe(503);
  });

  it('keeps registered runners in the database for other edge instances, and drops silent ones', async () => {
    const temp = await tempDb();
    cleanups.push(temp.cleanup);
    const runner = inProcessRunner('registered');
    const transport = inProcessTransport([runner]);
    await new RunnerPool({ db: temp.db, sign, transport }).heartbeat(beat('registered'));
    const other = new RunnerPool({ db: temp.db, sign, transport });
    expect((await other.candidates()).map((r) => r.id)).toEqual(['registered']);
    const { response } = await other.call('/_runner/v1/models');
    expect(((await response.json()) as { models: unknown[] }).models).toHaveLength(
      Object.keys(TINY_CATALOG.models).length,
    );
    const strict = new RunnerPool({ db: temp.db, sign, transport, heartbeatTimeoutMs: 0 });
    expect(await strict.candidates()).toEqual([]);
  });

  it('accepts heartbeats only with the runner token and valid bodies', async () => {
    const x = inProcessRunner('x', TEST_RUNNER_KEY, { credential: 'runner-registration-token' });
    const pool = new RunnerPool({ sign, transport: inProcessTransport([x]) });
    const t = await testApp({ extra: { pool, runnerToken: 'runner-registration-token' } });
    cleanups.push(t.cleanup);
    const post = (auth: string, body: unknown) =>
      t.app.request('/_edge/runners/heartbeat', {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post('Bearer wrong', beat('x'))).status).toBe(401);
    const bad = await post('Bearer runner-registration-token', { ...beat('x'), url: 'ftp://nope' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.param).toBe('url');
    expect((await post('Bearer runner-registration-token', beat('x'))).status).toBe(200);
    expect((await pool.candidates()).map((r) => r.id)).toEqual(['x']);
  });
});
