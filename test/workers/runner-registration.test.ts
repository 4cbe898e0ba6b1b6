import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createWorkerApp } from '../../edge/worker.ts';
import { runnerProof } from '../../shared/runner-proof.ts';

const SHARED = 'workers-shared-registration-token';
const OWN = 'workers-gpu-own-registration-secret';

/** Runners that answer the edge's identity challenge from inside workerd (the Worker's `fetch` is stubbed). */
function fakeRunners(credentials: Record<string, string>) {
  return vi.spyOn(globalThis, 'fetch').mockImplementation(async (input) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const id = url.hostname.split('.')[0]!;
    const credential = credentials[id];
    const challenge = url.searchParams.get('challenge');
    if (!credential || url.pathname !== '/_runner/health' || !challenge) throw new TypeError('connection refused');
    const proof = await runnerProof(credential, { challenge, id, url: url.origin });
    return Response.json({ status: 'ok', id, proof });
  });
}

/** Registration on workerd: WebCrypto proofs, RUNNER_CREDENTIALS from the Worker's env, the pool in D1. */
describe('runner registration on workerd', () => {
  afterEach(async () => {
    vi.restoreAllMocks();
    await env.DB.prepare('delete from runners').run();
  });

  it('verifies runners, holds per-runner credentials and refuses a taken id', async () => {
    fakeRunners({ gpu: OWN, cpu: SHARED, impostor: SHARED });
    const app = createWorkerApp({ ...env, RUNNER_TOKEN: SHARED, RUNNER_CREDENTIALS: `gpu:${OWN}` });
    const post = async (token: string, id: string, host = id) => {
      const res = await app.request('http://127.0.0.1/_edge/runners/heartbeat', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id, url: `http://${host}.runner.test`, loadedModels: [], capacity: 1, busy: 0 }),
      });
      return [res.status, ((await res.json()) as { error?: { code: string } }).error?.code];
    };
    expect(await post(SHARED, 'gpu')).toEqual([401, 'invalid_runner_credential']);
    expect(await post(OWN, 'gpu')).toEqual([200, undefined]);
    expect(await post(SHARED, 'cpu')).toEqual([200, undefined]);
    expect(await post(SHARED, 'cpu', 'impostor')).toEqual([409, 'runner_id_taken']);
    expect(await post(SHARED, 'gone')).toEqual([422, 'runner_unverified']);
    const rows = await env.DB.prepare('select id, url from runners order by id').all();
    expect(rows.results).toEqual([
      { id: 'cpu', url: 'http://cpu.runner.test' },
      { id: 'gpu', url: 'http://gpu.runner.test' },
    ]);
  });
});
