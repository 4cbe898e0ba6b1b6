import { Hono } from 'hono';
import { AppError } from '../../shared/errors.ts';
import { timingSafeEqual } from '../../shared/ids.ts';
import { RunnerHeartbeat } from '../../shared/schemas/runner.ts';
import type { AppEnv } from '../env.ts';
import type { RunnerPool } from '../runners/pool.ts';
import { validate } from '../validate.ts';

/** `POST /_edge/runners/heartbeat`: a runner registers itself (Bearer `RUNNER_TOKEN`). */
export function runnerRoutes(pool: RunnerPool, runnerToken: string | undefined) {
  return new Hono<AppEnv>().post(
    '/runners/heartbeat',
    async (c, next) => {
      if (!runnerToken) throw new AppError(403, 'Runner registration is disabled: set RUNNER_TOKEN on the edge');
      const presented = c.req.header('authorization')?.replace(/^Bearer\s+/i, '') ?? '';
      if (!timingSafeEqual(presented, runnerToken)) throw new AppError(401, 'Invalid runner token');
      await next();
    },
    validate('json', RunnerHeartbeat),
    async (c) => {
      await pool.heartbeat(c.req.valid('json'));
      return c.json({ status: 'ok' });
    },
  );
}
