import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stop } from '../helpers/child-processes.ts';
import { freePort, npmRun, untilOk } from '../helpers/processes.ts';

/** `npm run dev`: a runner plus the edge under `wrangler dev` (workerd, local D1). */
describe('npm run dev (wrangler dev edge + runner)', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'edgerunner-wrangler-'));
  let edge = '';
  let child: ReturnType<typeof npmRun>;

  beforeAll(async () => {
    const [edgePort, runnerPort] = [await freePort(), await freePort()];
    edge = `http://127.0.0.1:${edgePort}`;
    child = npmRun('dev', { EDGE_PORT: String(edgePort), RUNNER_PORT: String(runnerPort), DEV_STATE_DIR: stateDir });
    await untilOk(`${edge}/health`, child, { timeoutMs: 90_000 });
  });
  afterAll(async () => {
    if (child) await stop(child);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('serves /v1/models from the runner and keeps sessions in D1', async () => {
    const models = await fetch(`${edge}/v1/models`);
    expect(models.status).toBe(200);
    expect((await models.json()).models).toContain('Vigogne-2-13B');
    const first = await fetch(`${edge}/v1/session`);
    const id = first.headers.get('x-session-id')!;
    expect(await first.json()).toEqual({ session_id: id, current_model: null, has_model_loaded: false });
    const again = await fetch(`${edge}/v1/session`, { headers: { 'x-session-id': id } });
    expect(again.headers.get('x-session-id')).toBe(id);
  });
});
