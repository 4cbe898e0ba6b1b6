import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A test site on 127.0.0.1 (a free port) answering with `route`; `close()` drops open connections too. */
export async function localSite(route: RequestListener): Promise<{ origin: string; server: Server; close(): void }> {
  const server = createServer(route);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
