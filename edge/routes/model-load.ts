import { Hono, type Context } from 'hono';
import { toAppError } from '../middleware/errors.ts';
import { requireScope } from '../auth/scopes.ts';
import type { AppDeps, AppEnv } from '../env.ts';
import { sseResponse } from '../sse-response.ts';

/**
 * `POST /v1/models/{name}/load` (SSE progress), `DELETE /v1/models/{name}`
 * and `POST /v1/models/{name}/unload`. Loading, downloading and unloading
 * affect every caller, so they need the `admin` scope; an `inference` caller
 * may "load" a model that is loaded already (it becomes its session's model).
 */
export function modelLoadRoutes(deps: Pick<AppDeps, 'inference' | 'sessions' | 'logger'>) {
  const unload = async (c: Context<AppEnv>) => {
    const name = c.req.param('name')!;
    requireScope(c.get('principal'), 'admin', `Unloading model ${name}`);
    const unloaded = await deps.inference.unloadModel(name, { projectId: c.get('principal').projectId });
    return c.json({ status: unloaded ? 'unloaded' : 'not_loaded', model: name });
  };
  return new Hono<AppEnv>()
    .post('/models/:name/load', async (c) => {
      const name = c.req.param('name');
      const session = c.get('session');
      const principal = c.get('principal');
      if (principal.scope !== 'admin') {
        const models = await deps.inference.listModels({
          signal: c.req.raw.signal,
          sessionId: session.id,
          projectId: principal.projectId,
        });
        if (!models.some((m) => m.id === name && m.loaded)) {
          requireScope(principal, 'admin', `Loading model ${name} (it is not loaded now)`);
        }
      }
      let runnerId = session.runnerId;
      const events = await deps.inference.loadModel(name, {
        signal: c.req.raw.signal,
        sessionId: session.id,
        projectId: principal.projectId,
        runnerId,
        onRoute: (id) => (runnerId = id),
      });
      async function* withSession() {
        for await (const event of events) {
          if ('status' in event && event.status === 'loaded') {
            await deps.sessions.update(session, { currentModel: name, runnerId });
          }
          yield event;
        }
      }
      return sseResponse(c, withSession(), {
        onError: (err) => ({ error: toAppError(err).message }),
        logger: deps.logger,
      });
    })
    .post('/models/:name/unload', unload)
    .delete('/models/:name', unload);
}
