import { Hono } from 'hono';
import type { SessionInfo } from '../../shared/schemas/session.ts';
import type { AppDeps, AppEnv } from '../env.ts';

/** `GET /v1/session` (the session and whether its model is loaded now) and `/v1/session/history` (its conversation). */
export function sessionRoutes(deps: Pick<AppDeps, 'inference' | 'sessions'>) {
  return new Hono<AppEnv>()
    .get('/session/history', async (c) => {
      const { id } = c.get('session');
      return c.json({ session_id: id, messages: await deps.sessions.history(id) });
    })
    .delete('/session/history', async (c) => {
      await deps.sessions.saveHistory(c.get('session'), []);
      return c.json({ status: 'cleared' });
    })
    .get('/session', async (c) => {
      // Asked for explicitly, the session is kept (and its idle clock restarts).
      const session = await deps.sessions.persist(c.get('session'));
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
