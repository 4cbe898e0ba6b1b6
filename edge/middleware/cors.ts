import { cors } from 'hono/cors';

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
];

/**
 * All origins (the request's Origin is echoed, since credentials forbid `*`),
 * all methods, whatever headers the preflight asks for, credentials on.
 */
export const corsAll = () =>
  cors({
    origin: (origin) => origin || '*',
    credentials: true,
    allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    exposeHeaders: EXPOSED_HEADERS,
    maxAge: 86400,
  });
