import { Hono } from 'hono';
import { AppError } from '../../shared/errors.ts';
import type { AppDeps, AppEnv } from '../env.ts';

/** `POST /v1/stop`: stops the session's generation at once; the session stays usable. */
export function stopRoutes(deps: Pick<AppDeps, 'inference'>) {
  return new Hono<AppEnv>().post('/stop', async (c) => {
    const session = c.get('session');
    if (!session.currentModel) {
      throw new AppError(400, 'No model is loaded for this session', { code: 'no_model_loaded' });
    }
    await deps.inference.stop(session.id, { runnerId: session.runnerId });
    return c.json({ status: 'stopped' });
  });
}
