import { Script } from 'node:vm';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testApp } from '../../test/helpers/test-app.ts';
import { MONITOR_PAGE, MONITOR_SCRIPT } from '../monitor/monitor-page.ts';
import { workersMonitorAssets } from '../monitor/workers-assets.ts';
import { monitorRoutes, PLOTLY_PATH, type MonitorAssets } from './monitor.ts';

const BUNDLE = 'window.Plotly = { react() {} };'.repeat(100);

describe('monitorRoutes', () => {
  it('serves the page with its CSP and a script the browser can parse', async () => {
    const app = monitorRoutes({ plotly: async () => BUNDLE });
    const page = await app.request('/monitor');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self' ws: wss:");
    expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    const html = await page.text();
    expect(html).toBe(MONITOR_PAGE);
    expect(html).toContain(`<script src="${PLOTLY_PATH}" defer></script>`);
    expect(html).toContain('<script src="/monitor/monitor.js" defer></script>');
    expect(html).not.toMatch(/<script>|https?:\/\//); // no inline script, nothing from elsewhere

    const script = await app.request('/monitor/monitor.js');
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await script.text()).toBe(MONITOR_SCRIPT);
    expect(() => new Script(MONITOR_SCRIPT)).not.toThrow();
    expect(MONITOR_SCRIPT).toContain("'/ws/system-metrics'");

    const slash = await app.request('/monitor/');
    expect(slash.status).toBe(308);
    expect(slash.headers.get('location')).toBe('/monitor');
  });

  it('serves Plotly from the injected loader, read once, gzipped when accepted, cached by browsers', async () => {
    const plotly = vi.fn(async () => new TextEncoder().encode(BUNDLE));
    const app = monitorRoutes({ plotly });
    const plain = await app.request(PLOTLY_PATH);
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(plain.headers.get('cache-control')).toMatch(/max-age=\d{6,}/);
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(await plain.text()).toBe(BUNDLE);

    const zipped = await app.request(PLOTLY_PATH, { headers: { 'accept-encoding': 'gzip, deflate, br' } });
    expect(zipped.headers.get('content-encoding')).toBe('gzip');
    expect(zipped.headers.get('vary')).toBe('Accept-Encoding');
    const body = Buffer.from(await zipped.arrayBuffer());
    expect(body.length).toBeLessThan(BUNDLE.length);
    expect(gunzipSync(body).toString()).toBe(BUNDLE);
    expect(plotly).toHaveBeenCalledTimes(1);
  });

  it('passes a response (Workers’ ASSETS) through and answers 503 when the asset is missing or the load fails', async () => {
    const files = new Map([[PLOTLY_PATH, BUNDLE]]);
    const binding = {
      fetch: vi.fn(async (req: Request) => {
        const body = files.get(new URL(req.url).pathname);
        return body ? new Response(body, { headers: { etag: '"abc"' } }) : new Response('not found', { status: 404 });
      }),
    };
    const app = monitorRoutes(workersMonitorAssets(binding));
    for (let i = 0; i < 2; i++) {
      const res = await app.request(PLOTLY_PATH, { headers: { 'accept-encoding': 'gzip' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('etag')).toBe('"abc"');
      expect(res.headers.get('content-encoding')).toBeNull();
      expect(await res.text()).toBe(BUNDLE);
    }
    expect(binding.fetch).toHaveBeenCalledTimes(2);

    let fail = true;
    const flaky: MonitorAssets = {
      plotly: async () => {
        if (fail) throw new Error('EACCES');
        return BUNDLE;
      },
    };
    const t = await testApp();
    t.app.route('/', app);
    t.app.route('/flaky', monitorRoutes(flaky));

    files.clear();
    const missing = await t.app.request(PLOTLY_PATH);
    expect(missing.status).toBe(503);
    expect((await missing.json()).error.message).toContain('scripts/edge-assets.ts');

    expect((await t.app.request(`/flaky${PLOTLY_PATH}`)).status).toBe(503);
    fail = false;
    expect((await t.app.request(`/flaky${PLOTLY_PATH}`)).status).toBe(200);
    t.cleanup();
  });
});

describe('/monitor on the app', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  beforeAll(async () => {
    t = await testApp();
    t.app.route('/', monitorRoutes({ plotly: async () => BUNDLE }));
  });
  afterAll(() => t.cleanup());

  it('needs no credentials, but keeps the local-only guard while the server runs without auth', async () => {
    expect((await t.app.request('http://127.0.0.1:8080/monitor')).status).toBe(200);
    const rebound = await t.app.request('http://evil.example/monitor', { headers: { host: 'evil.example' } });
    expect(rebound.status).toBe(403);
  });
});
