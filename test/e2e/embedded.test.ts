import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runScript, startListening, type Started } from '../helpers/processes.ts';

describe('npm start (embedded)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'edgerunner-e2e-'));
  const env = { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' };
  const running: Started[] = [];
  afterAll(async () => {
    await Promise.all(running.map((s) => s.stop()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints the startup line, serves the API, keeps sessions across a restart and honours keys', async () => {
    const first = await startListening('start', env);
    running.push(first);
    expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const models = await (await fetch(`${first.url}/v1/models`)).json();
    expect(models.models).toContain('Llama-2-13B');
    const created = await fetch(`${first.url}/v1/session`);
    const sessionId = created.headers.get('x-session-id')!;
    expect((await created.json()).session_id).toBe(sessionId);
    await first.stop();

    const second = await startListening('start', env);
    running.push(second);
    const again = await fetch(`${second.url}/v1/session`, { headers: { 'x-session-id': sessionId } });
    expect(again.headers.get('x-session-id')).toBe(sessionId);

    const made = await runScript('keys', { DATA_DIR: dataDir }, ['create', '--project', 'e2e']);
    expect(made.code).toBe(0);
    const key = made.stdout.trim();
    expect(key).toMatch(/^apiKey\.\d+\.\w+$/);
    // The running server sees the new key within its cache time (5 s) and stops allowing anonymous use.
    await expect
      .poll(async () => (await fetch(`${second.url}/v1/models`)).status, { timeout: 10_000, interval: 250 })
      .toBe(401);
    const withKey = await fetch(`${second.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(withKey.status).toBe(200);
    const listed = await runScript('keys', { DATA_DIR: dataDir }, ['list']);
    expect(listed.stdout).toContain('e2e');
    expect(listed.stdout).not.toContain(key.split('.')[2]);
  });

  it('exits non-zero with a message naming the variable on bad configuration', async () => {
    const result = await runScript('start', { DATA_DIR: dataDir, PORT: 'eighty' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('PORT must be an integer');
    const allowlist = await runScript('start', { DATA_DIR: dataDir, PORT: '0', SSRF_ALLOWLIST: '10.0.0.1/8' });
    expect(allowlist.code).toBe(2);
    expect(allowlist.stderr).toContain('SSRF_ALLOWLIST: "10.0.0.1/8" has bits set past its prefix length');
  });
});
