import type { ServerType } from '@hono/node-server';
import { createNodeWebSocket } from '@hono/node-ws';
import { Hono } from 'hono';
import type { Server } from 'node:http';
import type { UpgradeWebSocketHelper } from '../edge/routes/system-metrics.ts';

interface FetchApp {
  fetch(request: Request, env?: unknown): Response | Promise<Response>;
}

export interface NodeWebSockets {
  /** Goes into `createApp`'s deps, before the app exists. */
  upgradeWebSocket: UpgradeWebSocketHelper;
  /** Names the app that answers upgrade requests (until then they get 503). */
  attach(app: FetchApp): void;
  /** `serveFetch`'s `onServer`: handles the server's upgrade requests; what it returns closes every socket. */
  inject(server: ServerType): () => void;
}

/**
 * WebSockets on Node (`@hono/node-ws`) for an app built after them.
 * `createNodeWebSocket` wants the app only to answer upgrade requests, so it
 * gets a front app that hands them to the one named by `attach`, with the
 * same `env` (node-ws marks the connection there).
 */
export function nodeWebSockets(): NodeWebSockets {
  let target: FetchApp | undefined;
  const front = new Hono().all('*', (c) => (target ? target.fetch(c.req.raw, c.env) : c.body(null, 503)));
  const { upgradeWebSocket, injectWebSocket, wss } = createNodeWebSocket({ app: front });
  return {
    upgradeWebSocket,
    attach(app) {
      target = app;
    },
    inject(server) {
      injectWebSocket(server as Server);
      return () => {
        for (const socket of wss.clients) socket.terminate();
      };
    },
  };
}
