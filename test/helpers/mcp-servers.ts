import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

/**
 * MCP servers built with the SDK for tests, on 127.0.0.1: tools `lookup` (read-only), `delete_item` (answers
 * isError), `ping` (no arguments, answers pong) and `hang` (never answers), over Streamable HTTP (`streamable`) or the older HTTP+SSE (`legacySse`).
 */

/** What the test servers saw. */
export interface Seen {
  requests: number;
  authorizations: string[];
  hangStarted: { promise: Promise<void>; resolve: () => void };
  hangCancelled: boolean;
}

export function buildServer(seen: Seen): McpServer {
  const server = new McpServer({ name: 'test-server', version: '1.0.0' });
  server.registerTool(
    'lookup',
    { description: 'Looks a word up.', inputSchema: { word: z.string() }, annotations: { readOnlyHint: true } },
    ({ word }) => ({ content: [{ type: 'text', text: `found ${word}` }] }),
  );
  server.registerTool(
    'delete_item',
    { description: 'Deletes an item.', inputSchema: { id: z.string() } },
    ({ id }) => ({
      content: [{ type: 'text', text: `no item ${id}` }],
      isError: true,
    }),
  );
  server.registerTool('ping', { description: 'Answers pong.', annotations: { readOnlyHint: true } }, () => ({
    content: [{ type: 'text', text: 'pong' }],
  }));
  server.registerTool('hang', { description: 'Never answers.' }, (extra) => {
    seen.hangStarted.resolve();
    return new Promise((resolve) => {
      extra.signal.addEventListener('abort', () => {
        seen.hangCancelled = true;
        resolve({ content: [] });
      });
    });
  });
  return server;
}

export type Route = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

export async function listen(route: (seen: Seen) => Route): Promise<{ server: Server; url: string; seen: Seen }> {
  let resolve = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  const seen: Seen = { requests: 0, authorizations: [], hangStarted: { promise, resolve }, hangCancelled: false };
  const handle = route(seen);
  const server = createServer((req, res) => {
    seen.requests++;
    if (req.headers.authorization) seen.authorizations.push(req.headers.authorization);
    Promise.resolve(handle(req, res)).catch(() => res.headersSent || res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** Streamable HTTP at /mcp, with sessions. */
export const streamable = (seen: Seen): Route => {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  return async (req, res) => {
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? sessions.get(id) : undefined;
    if (!transport) {
      if (id) return void res.writeHead(404).end();
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => void sessions.set(sid, created),
      });
      created.onclose = () => void (created.sessionId && sessions.delete(created.sessionId));
      await buildServer(seen).connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res);
  };
};

/** The older HTTP+SSE transport: GET /sse, POST /messages?sessionId=…; POST /sse is refused. */
export const legacySse = (seen: Seen): Route => {
  const sessions = new Map<string, SSEServerTransport>();
  return async (req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (req.method === 'GET' && url.pathname === '/sse') {
      const transport = new SSEServerTransport('/messages', res);
      sessions.set(transport.sessionId, transport);
      res.on('close', () => sessions.delete(transport.sessionId));
      await buildServer(seen).connect(transport);
      return;
    }
    const transport = sessions.get(url.searchParams.get('sessionId') ?? '');
    if (req.method === 'POST' && url.pathname === '/messages' && transport)
      return transport.handlePostMessage(req, res);
    res.writeHead(405).end();
  };
};
