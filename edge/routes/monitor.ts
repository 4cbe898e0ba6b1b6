import { Hono } from 'hono';
import { serveBundledAsset, type AssetBody } from '../assets/bundled-asset.ts';
import type { AppEnv } from '../env.ts';
import { MONITOR_PAGE, MONITOR_SCRIPT } from '../monitor/monitor-page.ts';

/** Where the page loads Plotly from; on Workers the static-assets directory holds the file at this path. */
export const PLOTLY_PATH = '/monitor/plotly.min.js';

/** Plotly's bundle as the runtime can give it: the file's bytes or text (Node), or a response (Workers' ASSETS). */
export type PlotlyBundle = AssetBody;

/**
 * What `/monitor` needs from the runtime, injected since edge code cannot
 * read `node_modules`: `nodeMonitorAssets()` (runner/monitor-assets.ts) on
 * Node, `workersMonitorAssets(env.ASSETS)` (edge/monitor/workers-assets.ts) on Workers.
 */
export interface MonitorAssets {
  plotly: () => Promise<PlotlyBundle>;
}

/** The page's script and Plotly only from here; Plotly sets inline styles; the socket is same-host ws/wss. */
export const MONITOR_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE_HEADERS = {
  'Content-Security-Policy': MONITOR_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};

/** A week: the URL carries no version, so an upgraded Plotly reaches browsers within that. */
const PLOTLY_CACHE = 'public, max-age=604800';
const JS = 'text/javascript; charset=utf-8';

/**
 * `GET /monitor`: the live system monitor (HTML; its script at
 * `/monitor/monitor.js`, Plotly at `/monitor/plotly.min.js`). The page holds
 * no data: it reads `/ws/system-metrics`, which is where auth applies.
 */
export function monitorRoutes({ plotly }: MonitorAssets) {
  return new Hono<AppEnv>()
    .get('/monitor', (c) => c.body(MONITOR_PAGE, 200, { ...PAGE_HEADERS, 'Content-Type': 'text/html; charset=utf-8' }))
    .get('/monitor/', (c) => c.redirect('/monitor', 308))
    .get('/monitor/monitor.js', (c) =>
      c.body(MONITOR_SCRIPT, 200, {
        'Content-Type': JS,
        'Cache-Control': 'no-cache',
        'X-Content-Type-Options': 'nosniff',
      }),
    )
    .get(
      PLOTLY_PATH,
      serveBundledAsset(plotly, { contentType: JS, cacheControl: PLOTLY_CACHE, what: "Plotly's bundle" }),
    );
}
