import { Hono } from 'hono';
import { requireScope } from '../auth/scopes.ts';
import type { AppDeps, AppEnv } from '../env.ts';
import { authenticate } from '../middleware/auth.ts';

/** The Prometheus text exposition format's content type (what prom-client's registry reports). */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsRoutesDeps extends Pick<AppDeps, 'apiKeys' | 'tokens' | 'anonymous'> {
  /** The exposition text, collected now. */
  render: () => Promise<string>;
}

/**
 * `GET /metrics` for Prometheus. What it shows (runners, models, traffic)
 * concerns the whole server, so it needs the `admin` scope, as loading a
 * model does; anonymous local use (no key yet, loopback) is admin.
 */
export function metricsRoutes(deps: MetricsRoutesDeps) {
  return new Hono<AppEnv>().use('/metrics', authenticate(deps)).get('/metrics', async (c) => {
    requireScope(c.get('principal'), 'admin', 'Reading /metrics');
    return c.body(await deps.render(), 200, {
      'content-type': PROMETHEUS_CONTENT_TYPE,
      'cache-control': 'no-store',
    });
  });
}
