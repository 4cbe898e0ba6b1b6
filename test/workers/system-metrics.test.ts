import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { MetricsFeed, perSubscriberFeed } from '../../edge/metrics/metrics-feed.ts';
import { onError } from '../../edge/middleware/errors.ts';
import { systemMetricsRoutes } from '../../edge/routes/system-metrics.ts';
import { upgradeWorkersWebSocket } from '../../edge/workers-websocket.ts';
import { createLogger } from '../../shared/log.ts';
import type { SystemSample } from '../../shared/schemas/system-metrics.ts';

const SAMPLE: SystemSample = {
  cpu: { percent: 1, frequency_current: 2, frequency_max: 3, cores: 4 },
  memory: { total: 8, available: 6, used: 2, percent: 25 },
  gpu: [],
};

/** `/ws/system-metrics` inside workerd, on the Workers upgrade helper, over a fake inference polled every 10 ms. */
describe('/ws/system-metrics on workerd', () => {
  it('sends readings from onOpen on, and stops polling when the client closes', async () => {
    let polls = 0;
    const inference = { systemMetrics: async () => (polls++, [{ runner: 'r1', sample: SAMPLE }]) };
    const feed = new MetricsFeed({ inference, intervalMs: 10 });
    const app = new Hono().route('/', systemMetricsRoutes({ feed, upgradeWebSocket: upgradeWorkersWebSocket }));
    const res = await app.fetch(
      new Request('http://127.0.0.1/ws/system-metrics', { headers: { upgrade: 'websocket' } }),
    );
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    const messages: string[] = [];
    const two = new Promise<void>((resolve) =>
      ws.addEventListener('message', (e) => {
        messages.push(String(e.data));
        if (messages.length === 2) resolve();
      }),
    );
    ws.accept();
    await two;
    expect(JSON.parse(messages[0]!)).toMatchObject({ ...SAMPLE, runner: 'r1' });
    expect(feed.subscribers).toBe(1);
    ws.close(1000, 'bye');
    await expect.poll(() => feed.subscribers).toBe(0);
    expect(feed.polling).toBe(false);
    const seen = polls;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(polls).toBe(seen);
  });

  it('answers a plain GET with 426, and per-subscriber feeds work too', async () => {
    const inference = { systemMetrics: async () => [{ runner: 'r1', sample: SAMPLE }] };
    const feed = perSubscriberFeed({ inference, intervalMs: 10 });
    const app = new Hono()
      .route('/', systemMetricsRoutes({ feed, upgradeWebSocket: upgradeWorkersWebSocket }))
      .onError(onError(createLogger('silent')));
    expect((await app.fetch(new Request('http://127.0.0.1/ws/system-metrics'))).status).toBe(426);
    const res = await app.fetch(
      new Request('http://127.0.0.1/ws/system-metrics', { headers: { upgrade: 'websocket' } }),
    );
    const ws = res.webSocket!;
    const first = new Promise<string>((resolve) => ws.addEventListener('message', (e) => resolve(String(e.data))));
    ws.accept();
    expect(JSON.parse(await first)).toMatchObject({ runner: 'r1' });
    ws.close();
  });

  it('selects the edgerunner subprotocol when a browser offers it (with its key), none otherwise', async () => {
    const inference = { systemMetrics: async () => [{ runner: 'r1', sample: SAMPLE }] };
    const feed = perSubscriberFeed({ inference, intervalMs: 10 });
    const app = new Hono().route('/', systemMetricsRoutes({ feed, upgradeWebSocket: upgradeWorkersWebSocket }));
    const offered = await app.fetch(
      new Request('http://127.0.0.1/ws/system-metrics', {
        headers: { upgrade: 'websocket', 'sec-websocket-protocol': 'edgerunner, edgerunner.key.YWJj' },
      }),
    );
    expect(offered.status).toBe(101);
    expect(offered.headers.get('sec-websocket-protocol')).toBe('edgerunner');
    offered.webSocket!.accept();
    offered.webSocket!.close();
    const plain = await app.fetch(
      new Request('http://127.0.0.1/ws/system-metrics', { headers: { upgrade: 'websocket' } }),
    );
    expect(plain.headers.get('sec-websocket-protocol')).toBeNull();
    plain.webSocket!.accept();
    plain.webSocket!.close();
  });
});
