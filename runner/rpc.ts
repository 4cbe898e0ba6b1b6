import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { notFound, onError } from '../edge/middleware/errors.ts';
import { AppError } from '../shared/errors.ts';
import type { Inference } from '../shared/inference.ts';
import type { Logger } from '../shared/log.ts';

export interface RunnerRpcDeps {
  runnerId: string;
  inference: Inference;
  /** Verifies an edge-signed token addressed to this runner. */
  verify: (token: string) => Promise<boolean>;
  logger: Logger;
}

/**
 * The runner's rpc (`/_runner/v1/...`) over its local engines. Every call
 * must carry an edge-signed JWT for this runner (`aud` = runner id, `exp`
 * ≤ 60 s); `/_runner/health` alone is open, and tells only the runner id.
 */
export function createRunnerRpc(deps: RunnerRpcDeps) {
  const app = new Hono();
  app.use(requestId());
  app.get('/_runner/health', (c) => c.json({ status: 'ok', id: deps.runnerId }));
  app.use('/_runner/v1/*', async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const token = /^Bearer\s+(.+)$/i.exec(header)?.[1];
    if (!token || !(await deps.verify(token))) {
      throw new AppError(401, 'Missing, expired or misaddressed runner token', { code: 'invalid_runner_token' });
    }
    await next();
  });
  app.get('/_runner/v1/status', async (c) => {
    const [status] = await deps.inference.status({ signal: c.req.raw.signal });
    return c.json(status);
  });
  app.get('/_runner/v1/models', async (c) =>
    c.json({ models: await deps.inference.listModels({ signal: c.req.raw.signal }) }),
  );
  app.notFound(notFound);
  app.onError(onError(deps.logger));
  return app;
}
