import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';

/** One finished generation: its model, the tokens it generated, and the time to its first token (none when it produced none). */
export interface GenerationObservation {
  model: string;
  tokens: number;
  ttftSeconds?: number;
}

/**
 * Where request and generation measurements go (Prometheus on Node:
 * `runner/metrics/prometheus.ts`). Runtime-neutral: edge code only calls it.
 */
export interface MetricsRecorder {
  /** One answered request: `route` is the route pattern (`/v1/models/:name`), never the raw path. */
  observeRequest(route: string, method: string, status: number, seconds: number): void;
  observeGeneration(observation: GenerationObservation): void;
}

/** The `route` label of requests that matched no endpoint (unknown paths, CORS preflights): raw paths are never labels. */
export const UNMATCHED_ROUTE = 'unmatched';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Times every request and records it under its route pattern, method and
 * status. Register it first, so that it sees every request; it records once
 * the inner handlers have returned, by which time Hono has rendered a thrown
 * error (`app.onError`) or a missing route (`app.notFound`) into `c.res`, so
 * error statuses are recorded as sent. A streaming answer (SSE) is recorded
 * when its handler returns the response, i.e. the time to headers, not the
 * time until the stream ends.
 */
export function recordRequests(recorder: Pick<MetricsRecorder, 'observeRequest'>): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    let thrown = false;
    try {
      await next();
    } catch (err) {
      thrown = true;
      throw err;
    } finally {
      const status = thrown ? 500 : c.res.status;
      const method = METHODS.has(c.req.method) ? c.req.method : 'OTHER';
      recorder.observeRequest(routePattern(c), method, status, (performance.now() - started) / 1000);
    }
  };
}

/**
 * The pattern of the endpoint a request reached: the handler that answered,
 * else (a middleware answered first: an auth error, a preflight) the first
 * endpoint after it that matched, else {@link UNMATCHED_ROUTE}. Middleware
 * (`app.use`, method `ALL`) never names a route.
 */
export function routePattern(c: Context): string {
  const routes = matchedRoutes(c);
  const at = c.req.routeIndex;
  const endpoint = (r: { method: string } | undefined) => r !== undefined && r.method !== 'ALL';
  if (endpoint(routes[at])) return routes[at]!.path;
  return (routes.slice(at + 1).find(endpoint) ?? routes.findLast(endpoint))?.path ?? UNMATCHED_ROUTE;
}
