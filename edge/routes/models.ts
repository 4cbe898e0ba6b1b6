import { Hono } from 'hono';
import { modelsResponse } from '../../shared/schemas/models.ts';
import type { AppDeps, AppEnv } from '../env.ts';

/** `GET /v1/models`. */
export function modelRoutes(deps: Pick<AppDeps, 'inference'>) {
  const created = Math.floor(Date.now() / 1000);
  return new Hono<AppEnv>().get('/models', async (c) => {
    const models = await deps.inference.listModels({
      sessionId: c.get('session').id,
      projectId: c.get('principal').projectId,
    });
    return c.json(modelsResponse(models, created));
  });
}
