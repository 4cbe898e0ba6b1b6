import { afterEach, describe, expect, it } from 'vitest';
import { TransportError } from '../edge/runners/transport.ts';
import { serveFetch, type Served } from './serve.ts';
import { undiciTransport } from './undici-transport.ts';

describe('undici transport', () => {
  const servers: Served[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });

  it('keeps streams on their own connections: a short call does not wait behind them', async () => {
    const server = await serveFetch(
      async (req) => {
        if (new URL(req.url).pathname === '/stream') {
          const body = new ReadableStream<Uint8Array>({
            start(c) {
              c.enqueue(new TextEncoder().encode('data: {}\n\n'));
            },
          });
          return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
        }
        return Response.json({ ok: true }, { headers: { 'retry-after': '2', 'x-ratelimit-limit-requests': '9' } });
      },
      '127.0.0.1',
      0,
    );
    servers.push(server);
    const transport = undiciTransport({ connections: 1 });
    const held = new AbortController();
    const streams = await Promise.all(
      [1, 2, 3].map(() =>
        transport(`${server.url}/stream`, { method: 'POST', headers: {}, stream: true, signal: held.signal }),
      ),
    );
    expect(streams.every((s) => s.status === 200)).toBe(true);
    const short = await transport(`${server.url}/models`, { method: 'GET', headers: {} });
    expect(await short.json()).toEqual({ ok: true });
    expect(short.headers.get('retry-after')).toBe('2');
    const names: string[] = [];
    short.headers.forEach((_v, name) => names.push(name));
    expect(names).toContain('x-ratelimit-limit-requests');
    held.abort();
    for (const s of streams) await s.body?.cancel().catch(() => {});
  });

  it('a refused connection is a TransportError that was not sent', async () => {
    const server = await serveFetch(async () => new Response('x'), '127.0.0.1', 0);
    const url = server.url;
    await server.close();
    const err = await undiciTransport()(`${url}/x`, { method: 'POST', headers: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).sent).toBe(false);
  });
});
