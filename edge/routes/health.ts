import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import type { AppDeps, AppEnv } from '../env.ts';

/** `/health` (the process answers) and `/ready` (database reachable, at least one runner known). */
export function healthRoutes(deps: Pick<AppDeps, 'db' | 'inference'>) {
  return new Hono<AppEnv>()
    .get('/health', (c) => c.json({ status: 'ok' }))
    .get('/ready', async (c) => {
      const database = await deps.db
        .run(sql`select 1`)
        .then(() => 'ok' as const)
        .catch(() => 'unreachable' as const);
      const runners = await deps.inference.status().catch(() => []);
      const ready = database === 'ok' && runners.length > 0;
      return c.json({ status: ready ? 'ready' : 'not_ready', database, runners: runners.length }, ready ? 200 : 503);
    });
}
