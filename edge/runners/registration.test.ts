import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../shared/log.ts';
import { createRunnerSigner } from '../../shared/runner-token.ts';
import { inProcessRunner, inProcessTransport, TEST_RUNNER_KEY } from '../../test/helpers/in-process-runner.ts';
import { tempDb, testApp } from '../../test/helpers/test-app.ts';
import { RunnerPool, type RunnerPoolOptions } from './pool.ts';
import type { Transport } from './transport.ts';

const sign = createRunnerSigner(TEST_RUNNER_KEY);
const TOKEN = 'shared-registration-token';
const OWN = 'gpu-own-registration-secret';
const beat = (id: string, url = `http://${id}.runner.test`) => ({ id, url, loadedModels: [], capacity: 4, busy: 0 });
const runner = (id: string, credential?: string, url?: string) =>
  inProcessRunner(id, TEST_RUNNER_KEY, { credential, url });

describe('runner registration', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    vi.useRealTimers();
    for (const f of cleanups.splice(0)) await f();
  });

  /** An edge app whose pool reaches `runners` in process (a `hang.runner.test` never answers); health calls and refusals are recorded. */
  async function edge(
    runners: Array<ReturnType<typeof inProcessRunner>>,
    secrets: { shared?: string; perRunner?: Record<string, string> } = { shared: TOKEN },
    options: Partial<RunnerPoolOptions> = {},
  ) {
    const health: string[] = [];
    const refused: string[] = [];
    const inner = inProcessTransport(runners);
    const transport: Transport = (url, init) => {
      if (url.includes('/_runner/health')) health.push(new URL(url).host);
      if (!url.startsWith('http://hang.runner.test')) return inner(url, init);
      return new Promise((_, reject) => init.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
    };
    const warn = (msg: string, fields?: Record<string, unknown>) => void refused.push(`${msg}: ${fields?.reason}`);
    const logger: Logger = { debug: () => {}, info: () => {}, warn, error: () => {} };
    const pool = new RunnerPool({ sign, transport, logger, ...options });
    const perRunner = secrets.perRunner && new Map(Object.entries(secrets.perRunner));
    const t = await testApp({ extra: { pool, runnerToken: secrets.shared, runnerCredentials: perRunner } });
    cleanups.push(t.cleanup);
    const post = async (token: string, body: unknown) => {
      const res = await t.app.request('/_edge/runners/heartbeat', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as { error?: { message: string; code: string } };
      return { status: res.status, code: json.error?.code, message: json.error?.message ?? '' };
    };
    const urls = async () => (await pool.candidates()).map((r) => r.url);
    return { pool, post, urls, health, refused };
  }

  it('adds a runner whose URL answers with its id and proof, routes to it, and does not ask again at each heartbeat', async () => {
    const r1 = runner('r1', TOKEN);
    const { pool, post, urls, health } = await edge([r1]);
    for (let i = 0; i < 3; i++) expect((await post(TOKEN, beat('r1'))).status).toBe(200);
    expect(await urls()).toEqual([r1.url]);
    const { response, runner: picked } = await pool.call('/_runner/v1/models');
    expect([response.status, picked.id]).toEqual([200, 'r1']);
    expect(health).toEqual(['r1.runner.test']);
  });

  it('asks again for the proof once the last one is older than reverifyMs', async () => {
    const { post, health } = await edge([runner('r1', TOKEN)], { shared: TOKEN }, { reverifyMs: 0 });
    for (let i = 0; i < 2; i++) expect((await post(TOKEN, beat('r1'))).status).toBe(200);
    expect(health).toEqual(['r1.runner.test', 'r1.runner.test']);
  });

  it('refuses a URL that answers as another id, gives no proof or a wrong one, or does not answer', async () => {
    const runners = [runner('other', TOKEN), runner('unproven'), runner('wrong', 'another-registration-token')];
    const { post, urls, refused } = await edge(runners, { shared: TOKEN }, { verifyTimeoutMs: 50 });
    const cases: Array<[ReturnType<typeof beat>, RegExp]> = [
      [beat('claimed', 'http://other.runner.test'), /answers as "other"/],
      [beat('unproven'), /proof of identity/],
      [beat('wrong'), /proof of identity/],
      [beat('gone'), /health check failed \(connection refused/],
      [beat('hang'), /no answer within 50 ms/],
    ];
    for (const [body, why] of cases) {
      const res = await post(TOKEN, body);
      expect(res).toMatchObject({ status: 422, code: 'runner_unverified' });
      expect(res.message).toContain(`Runner "${body.id}" at ${body.url} could not be verified`);
      expect(res.message).toMatch(why);
    }
    expect(await urls()).toEqual([]);
    expect(refused).toHaveLength(cases.length);
    expect(refused.every((line) => line.startsWith('runner registration refused'))).toBe(true);
  });

  it('refuses an id held by a live runner at another URL, without calling that URL, and keeps routing to the holder', async () => {
    const a = runner('a', TOKEN);
    const impostor = runner('a', TOKEN, 'http://impostor.runner.test');
    const { pool, post, urls, health, refused } = await edge([a, impostor]);
    expect((await post(TOKEN, beat('a'))).status).toBe(200);
    const taken = await post(TOKEN, beat('a', impostor.url));
    expect(taken).toMatchObject({ status: 409, code: 'runner_id_taken' });
    expect(taken.message).toMatch(/Runner id "a" is held by a live runner at another URL/);
    expect(refused).toEqual(['runner registration refused: id held by a live runner at another URL']);
    expect(health).toEqual(['a.runner.test']);
    expect(await urls()).toEqual([a.url]);
    expect((await pool.call('/_runner/v1/models')).runner.url).toBe(a.url);
  });

  it('lets another URL take an id once the runner holding it has gone silent', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const a = runner('a', TOKEN);
    const successor = runner('a', TOKEN, 'http://successor.runner.test');
    const { post, urls } = await edge([a, successor]);
    expect((await post(TOKEN, beat('a'))).status).toBe(200);
    vi.setSystemTime(Date.now() + 31_000);
    expect((await post(TOKEN, beat('a', successor.url))).status).toBe(200);
    expect(await urls()).toEqual([successor.url]);
  });

  it('takes a listed runner’s own secret for its id alone, refuses the shared token or a wrong secret for it', async () => {
    const gpu = runner('gpu', OWN);
    const cpu = runner('cpu', TOKEN);
    const { post, urls } = await edge([gpu, cpu], { shared: TOKEN, perRunner: { gpu: OWN } });
    const refused = { status: 401, code: 'invalid_runner_credential' };
    expect(await post(TOKEN, beat('gpu'))).toMatchObject(refused);
    expect(await post('gpu-wrong-registration-secret', beat('gpu'))).toMatchObject(refused);
    expect(await post(OWN, beat('cpu'))).toMatchObject(refused);
    expect((await post(OWN, beat('gpu'))).status).toBe(200);
    expect((await post(TOKEN, beat('cpu'))).status).toBe(200);
    expect((await urls()).sort()).toEqual([cpu.url, gpu.url]);
  });

  it('without RUNNER_TOKEN registers only listed runners, and none when no secret is set', async () => {
    const only = await edge([runner('gpu', OWN), runner('cpu', TOKEN)], { perRunner: { gpu: OWN } });
    expect((await only.post(OWN, beat('gpu'))).status).toBe(200);
    const unlisted = await only.post(TOKEN, beat('cpu'));
    expect(unlisted).toMatchObject({ status: 401, message: expect.stringMatching(/list it in RUNNER_CREDENTIALS/) });
    const none = await edge([runner('cpu', TOKEN)], {});
    expect((await none.post(TOKEN, beat('cpu'))).status).toBe(403);
  });

  it('moves a listed runner to a new URL while the old one is live, since it proves its own secret', async () => {
    const [before, after] = ['http://gpu-old.runner.test', 'http://gpu-new.runner.test'];
    const { post, urls } = await edge([runner('gpu', OWN, before), runner('gpu', OWN, after)], {
      perRunner: { gpu: OWN },
    });
    expect((await post(OWN, beat('gpu', before))).status).toBe(200);
    expect((await post(OWN, beat('gpu', after))).status).toBe(200);
    expect(await urls()).toEqual([after]);
  });

  it('refuses an id that a live runner holds through another edge instance, and drops it there once it moved', async () => {
    const temp = await tempDb();
    cleanups.push(temp.cleanup);
    const a = runner('a', TOKEN);
    const moved = runner('a', TOKEN, 'http://moved.runner.test');
    const transport = inProcessTransport([a, moved]);
    const first = new RunnerPool({ db: temp.db, sign, transport, statusTtlMs: 0 });
    const second = new RunnerPool({ db: temp.db, sign, transport });
    await first.register(beat('a'), { secret: TOKEN, own: false });
    const err = await second.register(beat('a', moved.url), { secret: TOKEN, own: false }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 409, code: 'runner_id_taken' });
    await second.register(beat('a', moved.url), { secret: TOKEN, own: true });
    await expect.poll(async () => (await first.candidates()).map((r) => r.url)).toEqual([moved.url]);
  });
});
