import type { MiddlewareHandler } from 'hono';
import type { LocalAccess } from '../auth/local-access.ts';

/** Headers a browser may read; `*` is ignored by browsers when credentials are on, so they are named. */
export const EXPOSED_HEADERS = [
  'X-Session-ID',
  'X-Request-Id',
  'Retry-After',
  'Content-Length',
  'Content-Type',
  'Content-Disposition',
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
].join(',');

const METHODS = 'GET,HEAD,POST,PUT,PATCH,DELETE,OPTIONS';

/**
 * All origins (the request's Origin is echoed, since credentials forbid `*`),
 * all methods, whatever headers the preflight asks for, credentials on —
 * once auth is on. While the server runs without auth, `access` refuses
 * (403) a non-loopback Host and an Origin that is neither loopback nor in
 * `CORS_ORIGINS`, preflights included. Preflights are answered here, before
 * auth. Headers are set on the context before the handler runs, so error
 * responses carry them too and the response object is never rebuilt (Node's
 * fast path stays on); the body is never read.
 */
export function corsAll(access?: LocalAccess): MiddlewareHandler {
  return async (c, next) => {
    const origin = c.req.header('origin');
    if (access) await access.check(c.req.url, c.req.header('host'), origin);
    const credentialed: Record<string, string> = origin
      ? { 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true' }
      : { 'Access-Control-Allow-Origin': '*' };
    const requestMethod = c.req.method === 'OPTIONS' ? c.req.header('access-control-request-method') : undefined;
    if (requestMethod) {
      const asked = c.req.header('access-control-request-headers');
      return c.body(null, 204, {
        ...credentialed,
        'Access-Control-Allow-Methods': METHODS,
        ...(asked ? { 'Access-Control-Allow-Headers': asked } : {}),
        'Access-Control-Max-Age': '86400',
        Vary: 'Origin, Access-Control-Request-Headers',
      });
    }
    // Only browsers read CORS headers, and they always send Origin cross-origin.
    if (origin) {
      c.header('Access-Control-Allow-Origin', origin);
      c.header('Access-Control-Allow-Credentials', 'true');
      c.header('Access-Control-Expose-Headers', EXPOSED_HEADERS);
      c.header('Vary', 'Origin');
    }
    await next();
  };
}
