import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricsFeed, type MetricsListener, type MetricsSource } from '../../edge/metrics/metrics-feed.ts';
import { nodeDocsAssets, nodeMonitorAssets } from '../../runner/monitor-assets.ts';
import { nodeWebSockets } from '../../runner/node-websocket.ts';
import { serveFetch } from '../../runner/serve.ts';
import type { SystemMetricsMessage } from '../../shared/schemas/system-metrics.ts';
import { localTestInference, testApp } from '../helpers/test-app.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '.tmp');

if (!hasChromium) console.warn(`monitor-browser: skipped, no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);

/** The embedded server's pieces: createApp over Node WebSockets, `/monitor` mounted, on a free port. */
async function startServer(metricsFeed: MetricsSource) {
  const websockets = nodeWebSockets();
  const t = await testApp({
    extra: {
      upgradeWebSocket: websockets.upgradeWebSocket,
      metricsFeed,
      monitorAssets: nodeMonitorAssets(),
      docsAssets: nodeDocsAssets(),
    },
  });
  websockets.attach(t.app);
  let dropSockets = () => {};
  const served = await serveFetch(t.app.fetch, '127.0.0.1', 0, {
    onServer: (server) => (dropSockets = websockets.inject(server)),
  });
  return {
    url: served.url,
    dropSockets: () => dropSockets(),
    close: async () => {
      await served.close();
      t.cleanup();
    },
  };
}

/** Two runners behind an edge, one with a GPU, a reading each every 250 ms. */
function twoRunnerFeed(): MetricsSource {
  return {
    subscribe(listener: MetricsListener) {
      let n = 0;
      const emit = () => {
        n += 1;
        const message = (runner: string, gpu: SystemMetricsMessage['gpu']): SystemMetricsMessage => ({
          runner,
          timestamp: Date.now(),
          cpu: { percent: (n * 7) % 100, frequency_current: 3200, frequency_max: 4800, cores: 16 },
          memory: { total: 64, available: 40, used: 24, percent: 37.5 },
          gpu,
        });
        for (const m of [
          message('gpu-box', [
            {
              id: 0,
              name: 'NVIDIA H200',
              load: (n * 13) % 100,
              memory_used: 40960,
              memory_total: 143771,
              temperature: 51,
            },
          ]),
          message('cpu-box', []),
        ])
          listener(m, JSON.stringify(m));
      };
      emit();
      const timer = setInterval(emit, 250);
      return () => clearInterval(timer);
    },
  };
}

interface MonitorHook {
  samples: number;
  state: string;
  reconnects: number;
  runners(): string[];
  points(chart: string): number;
}

/** Opens `/monitor` at `width`×800, collecting console errors and page errors. */
async function open(browser: Browser, url: string, width: number): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width, height: 800 } });
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(String(err)));
  const res = await page.goto(`${url}/monitor`);
  expect(res?.status()).toBe(200);
  return { page, errors };
}

/** Reads `window.__monitor` (evaluated over CDP: the page's CSP forbids eval, so no waitForFunction). */
const hook = <T>(page: Page, read: (m: MonitorHook) => T) =>
  page.evaluate(`(${read.toString()})(window.__monitor)`) as Promise<T>;

describe.skipIf(!hasChromium)(`/monitor in Chromium (${CHROMIUM})`, () => {
  let browser: Browser;
  const servers: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  it('draws this machine’s live readings on a phone and on a laptop, without console errors', async () => {
    const server = await startServer(new MetricsFeed({ inference: localTestInference() }));
    servers.push(server);
    for (const width of [375, 1280]) {
      const { page, errors } = await open(browser, server.url, width);
      await expect
        .poll(() => hook(page, (m) => m.samples), { timeout: 20_000, interval: 200 })
        .toBeGreaterThanOrEqual(2);
      await expect.poll(() => hook(page, (m) => m.points('cpu')), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
      await expect.poll(() => hook(page, (m) => m.points('memory')), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
      expect(await hook(page, (m) => m.runners())).toEqual(['embedded']);
      expect(await hook(page, (m) => m.state)).toBe('open');
      await expect.poll(() => page.textContent('#status-text')).toContain('connected');
      expect(await page.textContent('#label-memory')).toMatch(/[\d.]+ \/ [\d.]+ GB \(\d+%\)/);

      const layout = await page.evaluate(() => {
        const box = (id: string) => document.getElementById(id)!.getBoundingClientRect();
        return {
          scrollWidth: document.documentElement.scrollWidth,
          cpu: box('card-cpu').toJSON(),
          memory: box('card-memory').toJSON(),
          svg: document.querySelector('#chart-cpu .main-svg')!.getBoundingClientRect().toJSON(),
        };
      });
      expect(layout.scrollWidth).toBeLessThanOrEqual(width); // nothing overflows sideways
      expect(layout.svg.width).toBeGreaterThan(layout.cpu.width * 0.85); // the chart fills its card
      if (width < 600)
        expect(layout.memory.top).toBeGreaterThanOrEqual(layout.cpu.bottom); // stacked
      else expect(layout.memory.top).toBe(layout.cpu.top); // side by side

      await page.screenshot({ path: join(SHOTS, `monitor-${width}.png`), fullPage: true });
      expect(errors).toEqual([]);
      await page.close();
    }
  });

  it('draws one trace per runner and per GPU, and reconnects after the server drops the socket', async () => {
    const server = await startServer(twoRunnerFeed());
    servers.push(server);
    const { page, errors } = await open(browser, server.url, 1280);
    await expect.poll(() => hook(page, (m) => m.points('cpu')), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    expect(await hook(page, (m) => m.runners().sort())).toEqual(['cpu-box', 'gpu-box']);
    const traces = (chart: string) =>
      page.evaluate(
        (id) => (document.getElementById(id) as unknown as { data: { name: string }[] }).data.map((d) => d.name),
        `chart-${chart}`,
      );
    expect(await traces('cpu')).toEqual(['cpu-box', 'gpu-box']);
    expect(await traces('gpu-load')).toEqual(['gpu-box · GPU 0']);
    expect(await page.isVisible('#card-gpu-memory')).toBe(true);
    expect(await page.isVisible('#no-gpu')).toBe(false);
    expect(await page.textContent('#label-gpu-memory')).toContain('40.0 / 140.4 GB');
    await page.screenshot({ path: join(SHOTS, 'monitor-two-runners.png'), fullPage: true });

    const before = await hook(page, (m) => m.samples);
    server.dropSockets();
    await expect.poll(() => hook(page, (m) => m.reconnects), { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    await expect
      .poll(() => hook(page, (m) => m.samples), { timeout: 20_000, interval: 200 })
      .toBeGreaterThan(before + 4);
    expect(await hook(page, (m) => m.state)).toBe('open');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('renders the API docs (/docs) from /openapi.json with our own Swagger UI, without console errors', async () => {
    const server = await startServer(new MetricsFeed({ inference: localTestInference() }));
    servers.push(server);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('response', (r) => void (r.status() >= 400 && errors.push(`${r.status()} ${new URL(r.url()).pathname}`)));
    await page.goto(`${server.url}/docs`);
    await page.locator('.opblock').first().waitFor({ timeout: 30_000 });
    expect(await page.locator('.opblock').count()).toBeGreaterThan(20);
    expect(await page.locator('.opblock-summary-path', { hasText: '/llm-exec/round' }).count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, 'docs-1280.png') });
    expect(errors).toEqual([]);
    await page.close();
  });
});
