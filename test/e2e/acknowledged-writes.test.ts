import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { start, stop, type Child } from '../helpers/child-processes.ts';
import { runScript, startListening, type Started } from '../helpers/processes.ts';
import { TINY_CATALOG } from '../helpers/tiny-models.ts';

/**
 * Everything the server answered 200 for is still there after a restart, while a second process
 * writes the same database (what `npm run keys` does while the server runs): after SIGTERM and
 * after SIGKILL in the middle of the writes.
 */
describe('acknowledged writes survive a restart while another process writes', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'edgerunner-durability-'));
  const modelsFile = join(dataDir, 'models.json');
  writeFileSync(modelsFile, JSON.stringify({ models: { 'tiny-chat': TINY_CATALOG.models['tiny-chat'] } }));
  const env = { DATA_DIR: dataDir, MODELS_FILE: modelsFile, PORT: '0', HOST: '127.0.0.1' };
  const running: Array<Started | Child> = [];
  afterAll(async () => {
    await Promise.all(running.map((s) => ('stop' in s ? s.stop() : stop(s))));
    rmSync(dataDir, { recursive: true, force: true });
  });

  let key = '';
  const headers = () => ({ 'x-api-key': key, 'content-type': 'application/json' });

  /**
   * Sends chat turns from `workers` clients until `enough(acknowledged)` says so (checked after each
   * answer; at most 60 s); returns the acknowledged sessions.
   */
  async function chatUntil(url: string, enough: (acknowledged: number) => boolean, workers = 4) {
    const acknowledged = new Map<string, string>();
    const failures: string[] = [];
    let done = false;
    const deadline = setTimeout(() => (done = true), 60_000);
    let n = 0;
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (!done) {
          const text = `turn ${n++}`;
          const res = await fetch(`${url}/v1/chat/completions`, {
            method: 'POST',
            headers: headers(),
            body: JSON.stringify({ model: 'tiny-chat', messages: [{ role: 'user', content: text }], max_tokens: 4 }),
          }).catch(() => undefined);
          if (!res) break; // the server went away mid-request: not acknowledged
          const body = await res.text().catch(() => undefined);
          if (res.status === 200 && body !== undefined) acknowledged.set(res.headers.get('x-session-id')!, text);
          else if (body !== undefined) failures.push(`${res.status} ${body.slice(0, 200)}`);
          if (enough(acknowledged.size)) done = true;
        }
      }),
    );
    clearTimeout(deadline);
    return { acknowledged, failures };
  }

  async function lost(url: string, acknowledged: Map<string, string>): Promise<string[]> {
    const missing: string[] = [];
    for (const [id, text] of acknowledged) {
      const res = await fetch(`${url}/v1/session/history`, { headers: { ...headers(), 'x-session-id': id } });
      const { session_id, messages } = (await res.json()) as { session_id: string; messages: { content: string }[] };
      if (session_id !== id || messages[0]?.content !== text || messages.length !== 2) missing.push(id);
    }
    return missing;
  }

  async function secondWriter(): Promise<Child> {
    const writer = start({
      name: 'db writer',
      // One process (no npx/tsx wrapper), so SIGTERM reaches the writer and its summary line comes back.
      command: process.execPath,
      args: ['--import', 'tsx', 'test/helpers/db-writer.ts'],
      env: { DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
    });
    running.push(writer);
    await new Promise<void>((resolve) => writer.process.stdout!.once('data', () => resolve()));
    return writer;
  }

  async function writerResult(writer: Child): Promise<{ written: number; failed: number }> {
    let out = '';
    writer.process.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    await stop(writer, { graceMs: 10_000 });
    return JSON.parse(out.trim().split('\n').at(-1)!) as { written: number; failed: number };
  }

  it('after a graceful restart (SIGTERM)', async () => {
    const made = await runScript('keys', { DATA_DIR: dataDir }, ['create', '--project', 'durability']);
    expect(made.code, made.stderr).toBe(0);
    key = made.stdout.trim();

    const server = await startListening('start', env);
    running.push(server);
    const writer = await secondWriter();
    const { acknowledged, failures } = await chatUntil(server.url, (n) => n >= 40);
    const writes = await writerResult(writer);
    await server.stop();

    const again = await startListening('start', env);
    running.push(again);
    expect.soft((await lost(again.url, acknowledged)).length).toBe(0);
    expect.soft(failures.slice(0, 3)).toEqual([]);
    expect.soft(writes.failed).toBe(0);
    expect(writes.written).toBeGreaterThan(20);
    expect(acknowledged.size).toBeGreaterThan(20);
    await again.stop();
  }, 120_000);

  it('after SIGKILL in the middle of the writes', async () => {
    const server = await startListening('start', env);
    running.push(server);
    const writer = await secondWriter();
    // Killed while the clients are still sending: later requests fail and are not acknowledged.
    let killed = false;
    const { acknowledged } = await chatUntil(server.url, (n) => {
      if (n >= 25 && !killed) killed = process.kill(-server.child.process.pid!, 'SIGKILL');
      return false;
    });
    await server.child.exited;
    const writes = await writerResult(writer);
    const again = await startListening('start', env);
    running.push(again);
    expect.soft((await lost(again.url, acknowledged)).length).toBe(0);
    expect.soft(writes.failed).toBe(0);
    expect(acknowledged.size).toBeGreaterThan(20);
    await again.stop();
  }, 120_000);
});
