import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startListening, type Started } from '../helpers/processes.ts';

const RUNNER_SECRET = 'e2e-runner-secret-0123456789';
const RUNNER_TOKEN = 'e2e-registration-token';
const R4_SECRET = 'e2e-r4-own-registration-secret';

describe('edge on Node + runner processes', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'edgerunner-edge-'));
  const running: Started[] = [];
  let r1: Started, r2: Started, edge: Started;
  const runner = (id: string, extra: Record<string, string> = {}) =>
    startListening('runner', { HOST: '127.0.0.1', PORT: '0', RUNNER_ID: id, RUNNER_SECRET, ...extra });

  beforeAll(async () => {
    [r1, r2] = await Promise.all([runner('r1'), runner('r2')]);
    edge = await startListening('start', {
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      RUNNER_URLS: `${r1.url},${r2.url}`,
      RUNNER_SECRET,
      RUNNER_TOKEN,
      RUNNER_CREDENTIALS: `r4:${R4_SECRET}`,
    });
    running.push(r1, r2, edge);
  });
  afterAll(async () => {
    await Promise.all(running.map((s) => s.stop()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves /v1/models and /v1/session through the runners', async () => {
    const models = await fetch(`${edge.url}/v1/models`);
    expect(models.status).toBe(200);
    expect((await models.json()).models).toContain('Qwen2.5-0.5B-Instruct');
    const session = await fetch(`${edge.url}/v1/session`);
    const id = session.headers.get('x-session-id');
    expect(await session.json()).toEqual({ session_id: id, current_model: null, has_model_loaded: false });
    const ready = await (await fetch(`${edge.url}/ready`)).json();
    expect(ready).toMatchObject({ status: 'ready', runners: 2 });
  });

  it('runners refuse calls that the edge did not sign', async () => {
    expect((await fetch(`${r1.url}/_runner/v1/models`)).status).toBe(401);
    const forged = await fetch(`${r1.url}/_runner/v1/models`, { headers: { authorization: 'Bearer not.a.jwt' } });
    expect(forged.status).toBe(401);
    expect((await (await fetch(`${r1.url}/_runner/health`)).json()).id).toBe('r1');
  });

  it('registers a runner that sends heartbeats', async () => {
    const r3 = await runner('r3', { EDGE_URL: edge.url, RUNNER_TOKEN });
    running.push(r3);
    await expect
      .poll(async () => (await (await fetch(`${edge.url}/ready`)).json()).runners, { timeout: 15_000, interval: 250 })
      .toBe(3);
  });

  it('registers a runner listed in RUNNER_CREDENTIALS with its own secret', async () => {
    const r4 = await runner('r4', { EDGE_URL: edge.url, RUNNER_TOKEN: R4_SECRET });
    running.push(r4);
    await expect
      .poll(async () => (await (await fetch(`${edge.url}/ready`)).json()).runners, { timeout: 15_000, interval: 250 })
      .toBe(4);
  });

  it('fails over when a runner dies, and answers 503 when none is left', async () => {
    await r1.stop();
    for (let i = 0; i < 4; i++) expect((await fetch(`${edge.url}/v1/models`)).status).toBe(200);
    await Promise.all(running.filter((s) => s !== edge).map((s) => s.stop()));
    const res = await fetch(`${edge.url}/v1/models`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect((await res.json()).error.code).toBe('no_runner');
  });
});
