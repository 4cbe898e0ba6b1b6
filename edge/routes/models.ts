import { Hono } from 'hono';
import { AppError } from '../../shared/errors.ts';
import { modelObject, modelsResponse } from '../../shared/schemas/models.ts';
import type { AppDeps, AppEnv } from '../env.ts';

/** `GET /v1/models` and `GET /v1/models/{id}` (the OpenAI SDK's `models.retrieve`; ids may hold `/`). */
export function modelRoutes(deps: Pick<AppDeps, 'inference'>) {
  const created = Math.floor(Date.now() / 1000);
  return new Hono<AppEnv>()
    .get('/models', async (c) => {
      const models = await deps.inference.listModels({
        sessionId: c.get('session').id,
        projectId: c.get('principal').projectId,
      });
      return c.json(modelsResponse(models, created));
    })
    .get('/models/:id{.+}', async (c) => {
      const id = c.req.param('id');
      const models = await deps.inference.listModels({
        sessionId: c.get('session').id,
        projectId: c.get('principal').projectId,
      });
      const model = models.find((m) => m.id === id);
      if (!model) throw new AppError(404, `Model ${id} not found`, { code: 'model_not_found', param: 'model' });
      return c.json(modelObject(model, created));
    });
}
