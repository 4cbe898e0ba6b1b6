import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'hono';
import { afterAll, describe, expect, it } from 'vitest';
import { applyMigrations } from '../drizzle/migrate.ts';
import { createDb } from '../drizzle/db.ts';
import worker, { type WorkerEnv } from './worker.ts';

/** The Worker entry refuses to serve with a configuration it cannot use, and says what to fix. */
describe('Worker entry configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgerunner-worker-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const ctx = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
  const call = (env: WorkerEnv) => worker.fetch(new Request('http://127.0.0.1/health'), env, ctx);

  it('names the missing database and runner secret', async () => {
    const res = await call({});
    expect(res.status).toBe(500);
    const { error } = (await res.json()) as { error: { message: string; code: string } };
    expect(error.code).toBe('misconfigured');
    expect(error.message).toContain('DB');
    expect(error.message).toContain('RUNNER_SECRET');
  });

  it('names the field of a bad PROVIDERS_JSON, and serves once the configuration is good', async () => {
    const url = `file:${join(dir, 'w.db')}`;
    await applyMigrations(createDb({ url }));
    const base = { DATABASE_URL: url, RUNNER_SECRET: 'worker-test-secret-123' };
    const bad = await call({ ...base, PROVIDERS_JSON: '{"providers":{"x":{"name":"X","baseUrl":"ftp://nope"}}}' });
    expect(bad.status).toBe(500);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain('providers.x.baseUrl');
    expect((await call(base)).status).toBe(200);
  });
});
