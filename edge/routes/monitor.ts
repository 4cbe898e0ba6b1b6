import { Hono } from 'hono';
import { AppError } from '../../shared/errors.ts';
import type { AppEnv } from '../env.ts';
import { MONITOR_PAGE, MONITOR_SCRIPT } from '../monitor/monitor-page.ts';

/** Where the page loads Plotly from; on Workers the static-assets directory holds the file at this path. */
export const PLOTLY_PATH = '/monitor/plotly.min.js';

/** Plotly's bundle as the runtime can give it: the file's bytes or text (Node), or a response (Workers' ASSETS). */
export type PlotlyBundle = Response | string | ArrayBuffer | Uint8Array;

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
  let gzipped: Promise<Bytes> | undefined;
  let bytes: Promise<Bytes | Response> | undefined;

  /** The bundle, its bytes kept after the first load (a failed load is retried on the next request). */
  const load = () =>
    (bytes ??= plotly()
      .then((bundle) => (bundle instanceof Response ? bundle : toBytes(bundle)))
      .then((b) => {
        if (b instanceof Response) bytes = undefined; // a response's body reads once
        return b;
      })
      .catch((err: unknown) => {
        bytes = undefined;
        throw err;
      }));

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
    .get(PLOTLY_PATH, async (c) => {
      const bundle = await load().catch((err: unknown) => {
        throw unavailable(String((err as Error)?.message ?? err));
      });
      const headers: Record<string, string> = {
        'Content-Type': JS,
        'Cache-Control': PLOTLY_CACHE,
        'X-Content-Type-Options': 'nosniff',
      };
      if (bundle instanceof Response) {
        // Workers' ASSETS: streamed as is (the platform compresses and sets the ETag).
        if (!bundle.ok) throw unavailable(`the asset store answered ${bundle.status}`);
        const etag = bundle.headers.get('etag');
        return new Response(bundle.body, { headers: { ...headers, ...(etag ? { ETag: etag } : {}) } });
      }
      headers.Vary = 'Accept-Encoding';
      if (/\bgzip\b/i.test(c.req.header('accept-encoding') ?? '')) {
        gzipped ??= gzip(bundle).catch((err: unknown) => {
          gzipped = undefined;
          throw err;
        });
        return c.body(await gzipped, 200, { ...headers, 'Content-Encoding': 'gzip' });
      }
      return c.body(bundle, 200, headers);
    });
}

type Bytes = Uint8Array<ArrayBuffer>;

function toBytes(bundle: string | ArrayBuffer | Uint8Array): Bytes {
  if (typeof bundle === 'string') return new TextEncoder().encode(bundle) as Bytes;
  if (!(bundle instanceof Uint8Array)) return new Uint8Array(bundle);
  return bundle.buffer instanceof ArrayBuffer ? (bundle as Bytes) : (bundle.slice() as Bytes);
}

/** Compressed once per process: 4.8 MB of JavaScript is about 1.4 MB gzipped (phones on a LAN). */
async function gzip(bytes: Bytes): Promise<Bytes> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function unavailable(why: string): AppError {
  return new AppError(503, `Plotly's bundle is unavailable (${why}); on Workers run \`tsx scripts/edge-assets.ts\``, {
    code: 'asset_unavailable',
  });
}
