import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env.ts';
import type { SessionStore } from '../sessions/session-store.ts';

/**
 * Attaches the caller's session and returns its id in `X-Session-ID` on every
 * response (set on the context first, so errors carry it too; reading
 * `c.res` afterwards would rebuild Node's lightweight response).
 */
export function session(store: SessionStore): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const record = await store.resolve(c.req.header('x-session-id'), c.get('principal'));
    c.set('session', record);
    c.header('X-Session-ID', record.id);
    await next();
  };
}
