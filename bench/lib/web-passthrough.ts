import { serve } from '@hono/node-server';
import { Hono } from 'hono';

/**
 * The ceiling of any Node proxy of a body, for `npm run bench -- web`: a bare Hono app on @hono/node-server
 * (the stack edgerunner serves with) whose `GET /?url=` answers with the upstream body as it comes, by
 * Node's global fetch: no SSRF guard, no base64, no SSE. `url_stream` does that and more, so its throughput
 * over this one's is what our own code costs. Env: HOST (default 127.0.0.1), PORT (default 0). Prints
 * `listening on http://HOST:PORT` when ready.
 */
const host = process.env.HOST ?? '127.0.0.1';

const app = new Hono().get('/', async (c) => {
  const upstream = await fetch(c.req.query('url') ?? '', { signal: c.req.raw.signal });
  return new Response(upstream.body, {
    status: upstream.status,
    headers: { 'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream' },
  });
});

serve({ fetch: app.fetch, hostname: host, port: Number(process.env.PORT ?? 0) }, (info) =>
  console.log(`listening on http://${host}:${info.port}`),
);
