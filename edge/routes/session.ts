import { Hono } from 'hono';
import type { SessionInfo } from '../../shared/schemas/session.ts';
import type { AppDeps, AppEnv } from '../env.ts';

/** `GET /v1/session`: the caller's session and whether its model is loaded now. */
export function sessionRoutes(deps: Pick<AppDeps, 'inference'>) {
  return new Hono<AppEnv>().get('/session', async (c) => {
    const session = c.get('session');
    let loaded = false;
    if (session.currentModel) {
      const models = await deps.inference.listModels({ sessionId: session.id, projectId: session.projectId });
      loaded = models.some((m) => m.id === session.currentModel && m.loaded);
    }
    const body: SessionInfo = {
      session_id: session.id,
      current_model: session.currentModel,
      has_model_loaded: loaded,
    };
    return c.json(body);
  });
}
