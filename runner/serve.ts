import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';

export interface Served {
  url: string;
  close(): Promise<void>;
}

type FetchHandler = (request: Request) => Response | Promise<Response>;

export interface ServeOptions {
  /** Called with the server before it listens (e.g. `NodeWebSockets.inject`); what it returns runs first on close. */
  onServer?: (server: ServerType) => void | (() => void);
}

/** Serves a fetch handler on HOST:PORT (port 0 picks a free one); resolves once listening. */
export function serveFetch(
  fetch: FetchHandler,
  host: string,
  port: number,
  { onServer }: ServeOptions = {},
): Promise<Served> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: (req: Request) => fetch(req), hostname: host, port }, (info: AddressInfo) => {
      const shown = info.address.includes(':') ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${host === 'localhost' ? 'localhost' : shown}:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            beforeClose?.();
            server.close(() => done());
            if ('closeAllConnections' in server) server.closeAllConnections();
          }),
      });
    });
    // The listening callback runs later, once this is set.
    const beforeClose = onServer?.(server);
    server.once('error', reject);
  });
}
