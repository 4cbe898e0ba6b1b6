import { defineWebSocketHelper, WSContext, type WSReadyState } from 'hono/ws';
import { WEBSOCKET_PROTOCOL } from './auth/websocket-protocol-key.ts';

/** The server end of a Workers `WebSocketPair` (typed here: this file also compiles with Node's types). */
interface WorkersSocket {
  accept(): void;
  send(message: string | ArrayBuffer | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
  readonly readyState: number;
  readonly url: string | null;
  readonly protocol: string | null;
  addEventListener(type: 'message' | 'close' | 'error', listener: (event: never) => void): void;
}

type WebSocketPairClass = new () => { 0: WorkersSocket; 1: WorkersSocket };

/**
 * `upgradeWebSocket` for Cloudflare Workers. Unlike `hono/cloudflare-workers`'s
 * (deprecated), it calls `onOpen` once the socket is accepted, so routes can
 * start sending from there as they do on Node.
 */
export const upgradeWorkersWebSocket = defineWebSocketHelper<WorkersSocket>(async (c, events) => {
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') return;
  const Pair = (globalThis as unknown as { WebSocketPair: WebSocketPairClass }).WebSocketPair;
  const { 0: client, 1: server } = new Pair();
  const ws = new WSContext<WorkersSocket>({
    send: (source) => server.send(source),
    close: (code, reason) => server.close(code, reason),
    raw: server,
    get readyState() {
      return server.readyState as WSReadyState;
    },
    url: server.url ? new URL(server.url) : null,
    get protocol() {
      return server.protocol;
    },
  });
  const { onMessage, onClose, onError, onOpen } = events;
  if (onMessage) server.addEventListener('message', (event: MessageEvent) => onMessage(event, ws));
  if (onClose) server.addEventListener('close', (event: CloseEvent) => onClose(event, ws));
  if (onError) server.addEventListener('error', (event: Event) => onError(event, ws));
  server.accept();
  onOpen?.(new Event('open'), ws);
  // A browser that offered subprotocols fails the connection unless the server selects one of them.
  const offered = (c.req.header('sec-websocket-protocol') ?? '').split(',').map((p) => p.trim());
  const headers = offered.includes(WEBSOCKET_PROTOCOL) ? { 'sec-websocket-protocol': WEBSOCKET_PROTOCOL } : undefined;
  return new Response(null, { status: 101, webSocket: client, headers } as ResponseInit);
});
