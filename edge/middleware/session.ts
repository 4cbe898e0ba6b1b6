import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env.ts';
import type { SessionStore } from '../sessions/session-store.ts';

/** Attaches the caller's session and returns its id in `X-Session-ID` on every response. */
export function session(store: SessionStore): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const record = await store.resolve(c.req.header('x-session-id'), c.get('principal'));
    c.set('session', record);
    c.header('X-Session-ID', record.id);
    await next();
    if (!c.res.headers.has('X-Session-ID')) {
      try {
        c.res.headers.set('X-Session-ID', record.id);
      } catch {
        c.res = new Response(c.res.body, c.res);
        c.res.headers.set('X-Session-ID', record.id);
      }
    }
  };
}
