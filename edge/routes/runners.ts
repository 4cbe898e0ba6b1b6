import { Hono } from 'hono';
import { AppError } from '../../shared/errors.ts';
import { RunnerHeartbeat } from '../../shared/schemas/runner.ts';
import type { AppEnv } from '../env.ts';
import type { RunnerPool } from '../runners/pool.ts';
import { credentialFor, registrationEnabled, type RegistrationSecrets } from '../runners/registration.ts';
import { validate } from '../validate.ts';

/**
 * `POST /_edge/runners/heartbeat`: a runner registers itself and stays
 * registered (Bearer: its own secret from `RUNNER_CREDENTIALS`, or the shared
 * `RUNNER_TOKEN`); the pool checks its identity before adding it.
 */
export function runnerRoutes(pool: RunnerPool, secrets: RegistrationSecrets) {
  return new Hono<AppEnv>().post(
    '/runners/heartbeat',
    async (_c, next) => {
      if (!registrationEnabled(secrets)) {
        throw new AppError(403, 'Runner registration is disabled: set RUNNER_TOKEN or RUNNER_CREDENTIALS on the edge');
      }
      await next();
    },
    validate('json', RunnerHeartbeat),
    async (c) => {
      const beat = c.req.valid('json');
      const presented = c.req.header('authorization')?.replace(/^Bearer\s+/i, '') ?? '';
      await pool.register(beat, credentialFor(secrets, beat.id, presented), c.req.raw.signal);
      return c.json({ status: 'ok' });
    },
  );
}
