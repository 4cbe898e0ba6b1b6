import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MetricsFeed } from '../edge/metrics/metrics-feed.ts';
import { systemMetricsRoutes } from '../edge/routes/system-metrics.ts';
import { SystemMetricsMessage } from '../shared/schemas/system-metrics.ts';
import { localTestInference, testApp } from '../test/helpers/test-app.ts';
import { nodeWebSockets } from './node-websocket.ts';
import { serveFetch, type Served } from './serve.ts';

/** Opens a WebSocket and collects its text messages; `opened` rejects if the upgrade is refused. */
function connect(url: string, init?: { headers: Record<string, string> }) {
  const ws = new (WebSocket as unknown as new (url: string, init?: unknown) => WebSocket)(url, init);
  const messages: string[] = [];
  ws.addEventListener('message', (e) => messages.push(String(e.data)));
  const opened = new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve());
    ws.addEventListener('error', () => reject(new Error('WebSocket refused')));
  });
  const closed = new Promise<void>((resolve) => ws.addEventListener('close', () => resolve()));
  return { ws, messages, opened, closed };
}

describe('/ws/system-metrics over a Node server (createApp + @hono/node-ws)', () => {
  const inference = localTestInference();
  const systemMetrics = vi.spyOn(inference, 'systemMetrics');
  const feed = new MetricsFeed({ inference });
  let served: Served;
  let cleanup: () => void;
  let wsUrl: string;

  beforeAll(async () => {
    const websockets = nodeWebSockets();
    const t = await testApp({ inference });
    cleanup = t.cleanup;
    t.app.route('/', systemMetricsRoutes({ feed, upgradeWebSocket: websockets.upgradeWebSocket }));
    websockets.attach(t.app);
    served = await serveFetch(t.app.fetch, '127.0.0.1', 0, { onServer: websockets.inject });
    wsUrl = `${served.url.replace(/^http/, 'ws')}/ws/system-metrics`;
  });
  afterAll(async () => {
    await served?.close();
    cleanup?.();
  });

  it('streams readings in the document’s shape with the runner, and stops polling once the client leaves', async () => {
    const client = connect(wsUrl);
    await client.opened;
    await vi.waitFor(() => expect(client.messages.length).toBeGreaterThanOrEqual(2), { timeout: 8_000 });
    const [first, second] = client.messages.map((m) => SystemMetricsMessage.parse(JSON.parse(m)));
    for (const m of [first!, second!]) {
      expect(m.runner).toBe('embedded');
      expect(Object.keys(m).sort()).toEqual(['cpu', 'gpu', 'memory', 'runner', 'timestamp']);
      expect(m.memory.total).toBeGreaterThan(0);
    }
    expect(second!.timestamp).toBeGreaterThan(first!.timestamp);
    expect(feed.subscribers).toBe(1);

    client.ws.close();
    await client.closed;
    await vi.waitFor(() => expect(feed.subscribers).toBe(0));
    expect(feed.polling).toBe(false);
    const calls = systemMetrics.mock.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(systemMetrics.mock.calls.length).toBe(calls);
  });

  it('shares one poll loop between two clients', async () => {
    const a = connect(wsUrl);
    const b = connect(wsUrl);
    await Promise.all([a.opened, b.opened]);
    expect(feed.subscribers).toBe(2);
    await vi.waitFor(() => expect(b.messages.length).toBeGreaterThanOrEqual(1), { timeout: 8_000 });
    a.ws.close();
    await vi.waitFor(() => expect(feed.subscribers).toBe(1));
    expect(feed.polling).toBe(true);
    b.ws.close();
    await vi.waitFor(() => expect(feed.subscribers).toBe(0));
  });

  it('refuses a page from a foreign origin while the server runs without auth', async () => {
    const client = connect(wsUrl, { headers: { origin: 'https://evil.example' } });
    await expect(client.opened).rejects.toThrow('refused');
    expect(feed.subscribers).toBe(0);
  });

  it('answers a plain GET with 426', async () => {
    const res = await fetch(wsUrl.replace(/^ws/, 'http'));
    expect(res.status).toBe(426);
    expect(res.headers.get('upgrade')).toBe('websocket');
  });
});
