import { DOCS_FILES, type DocsAssets } from '../routes/docs.ts';
import { PLOTLY_PATH, type MonitorAssets } from '../routes/monitor.ts';

/** Workers' static-assets binding (wrangler.toml `[assets] binding = "ASSETS"`). */
export interface AssetsBinding {
  fetch(request: Request): Promise<Response>;
}

/**
 * `/monitor`'s assets on Workers: Plotly's bundle from the static-assets
 * directory, copied there by `scripts/edge-assets.ts`. The platform serves
 * `/monitor/plotly.min.js` itself before the Worker runs; this covers the
 * requests that reach the Worker anyway.
 */
export function workersMonitorAssets(assets: AssetsBinding): MonitorAssets {
  return { plotly: () => assets.fetch(new Request(new URL(PLOTLY_PATH, 'https://assets.invalid'))) };
}

/** `/docs`'s Swagger UI files from the static-assets directory (copied there by `scripts/edge-assets.ts`). */
export function workersDocsAssets(assets: AssetsBinding): DocsAssets {
  const get = (path: string) => () => assets.fetch(new Request(new URL(path, 'https://assets.invalid')));
  return { bundle: get(DOCS_FILES.bundle), css: get(DOCS_FILES.css) };
}
