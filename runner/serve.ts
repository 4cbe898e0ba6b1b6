import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';

export interface Served {
  url: string;
  close(): Promise<void>;
}

type FetchHandler = (request: Request) => Response | Promise<Response>;

/** Serves a fetch handler on HOST:PORT (port 0 picks a free one); resolves once listening. */
export function serveFetch(fetch: FetchHandler, host: string, port: number): Promise<Served> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: (req: Request) => fetch(req), hostname: host, port }, (info: AddressInfo) => {
      const shown = info.address.includes(':') ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${host === 'localhost' ? 'localhost' : shown}:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            if ('closeAllConnections' in server) server.closeAllConnections();
          }),
      });
    });
    server.once('error', reject);
  });
}
