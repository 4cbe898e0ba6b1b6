import { Hono } from 'hono';
import type { UpgradeWebSocket } from 'hono/ws';
import { AppError } from '../../shared/errors.ts';
import type { AppEnv } from '../env.ts';
import type { MetricsSource } from '../metrics/metrics-feed.ts';

/**
 * The runtime's WebSocket upgrade helper, injected: `@hono/node-ws`'s on
 * Node, `upgradeWorkersWebSocket` (`edge/workers-websocket.ts`) on Workers.
 * It must call `onOpen`; `hono/cloudflare-workers`'s never does.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each runtime's helper takes its own options
export type UpgradeWebSocketHelper = UpgradeWebSocket<unknown, any>;

export interface SystemMetricsRouteDeps {
  /** Where the readings come from: a shared `MetricsFeed` (Node), or `perSubscriberFeed` (Workers). */
  feed: MetricsSource;
  upgradeWebSocket: UpgradeWebSocketHelper;
}

/**
 * `GET /ws/system-metrics`: a WebSocket that sends every runner's reading
 * as JSON text, every second, until the client leaves (the document's
 * system monitoring). A plain GET is a 426.
 */
export function systemMetricsRoutes({ feed, upgradeWebSocket }: SystemMetricsRouteDeps) {
  return new Hono<AppEnv>().get(
    '/ws/system-metrics',
    upgradeWebSocket(() => {
      let unsubscribe: (() => void) | undefined;
      const leave = () => {
        unsubscribe?.();
        unsubscribe = undefined;
      };
      return {
        onOpen: (_event, ws) => {
          unsubscribe ??= feed.subscribe((_message, text) => {
            if (ws.readyState === 1) ws.send(text);
          });
        },
        onClose: leave,
        onError: leave,
      };
    }),
    () => {
      throw new AppError(426, 'GET /ws/system-metrics is a WebSocket: connect with a WebSocket client', {
        code: 'upgrade_required',
        headers: { upgrade: 'websocket' },
      });
    },
  );
}
