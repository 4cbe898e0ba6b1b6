import { Hono } from 'hono';
import { serveBundledAsset, type AssetBody } from '../assets/bundled-asset.ts';
import { DOCS_PAGE, DOCS_SCRIPT } from '../docs/docs-page.ts';
import type { AppEnv } from '../env.ts';

/** Swagger UI's files as the runtime gives them (Node: node_modules/swagger-ui-dist; Workers: static assets). */
export interface DocsAssets {
  bundle: () => Promise<AssetBody>;
  css: () => Promise<AssetBody>;
}

/** Where the page loads Swagger UI from; on Workers the static-assets directory holds the files at these paths. */
export const DOCS_FILES = { bundle: '/docs/swagger-ui-bundle.js', css: '/docs/swagger-ui.css' } as const;

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');
const WEEK = 'public, max-age=604800';
const JS = 'text/javascript; charset=utf-8';

/** `GET /docs`: interactive docs of `/openapi.json` (Swagger UI from npm, no CDN). */
export function docsRoutes({ bundle, css }: DocsAssets) {
  return new Hono<AppEnv>()
    .get('/docs', (c) =>
      c.body(DOCS_PAGE, 200, {
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Security-Policy': CSP,
        'X-Content-Type-Options': 'nosniff',
        'Cache-Control': 'no-cache',
      }),
    )
    .get('/docs/init.js', (c) => c.body(DOCS_SCRIPT, 200, { 'Content-Type': JS, 'Cache-Control': 'no-cache' }))
    .get(DOCS_FILES.bundle, serveBundledAsset(bundle, { contentType: JS, cacheControl: WEEK, what: 'Swagger UI' }))
    .get(
      DOCS_FILES.css,
      serveBundledAsset(css, {
        contentType: 'text/css; charset=utf-8',
        cacheControl: WEEK,
        what: "Swagger UI's styles",
      }),
    );
}
