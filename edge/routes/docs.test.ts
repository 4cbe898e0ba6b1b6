import { describe, expect, it } from 'vitest';
import { nodeDocsAssets } from '../../runner/monitor-assets.ts';
import { createLogger } from '../../shared/log.ts';
import { onError } from '../middleware/errors.ts';
import { DOCS_PAGE } from '../docs/docs-page.ts';
import { docsRoutes, DOCS_FILES } from './docs.ts';

describe('docsRoutes', () => {
  it('serves the docs page (no inline script, nothing from elsewhere) and Swagger UI from npm', async () => {
    const app = docsRoutes(nodeDocsAssets());
    const page = await app.request('/docs');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toBe(DOCS_PAGE);
    expect(html).not.toMatch(/<script>|https?:\/\//);
    expect(await (await app.request('/docs/init.js')).text()).toContain("url: '/openapi.json'");
    const bundle = await app.request(DOCS_FILES.bundle);
    expect(bundle.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await bundle.arrayBuffer()).byteLength).toBeGreaterThan(500_000);
    const css = await app.request(DOCS_FILES.css, { headers: { 'accept-encoding': 'gzip' } });
    expect(css.headers.get('content-encoding')).toBe('gzip');
  });

  it('answers 503 naming the copy script when a file cannot be loaded', async () => {
    const app = docsRoutes({ bundle: async () => new Response('', { status: 404 }), css: async () => '' });
    app.onError(onError(createLogger('silent')));
    const res = await app.request(DOCS_FILES.bundle);
    expect(res.status).toBe(503);
    expect((await res.json()).error.message).toMatch(/scripts\/edge-assets\.ts/);
  });
});
