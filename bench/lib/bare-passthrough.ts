import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { Pool } from 'undici';
import { createRunnerSigner } from '../../shared/runner-token.ts';
import { nodeHs256 } from '../../runner/node-hs256.ts';

/**
 * The practical ceiling for a Node proxy (FACTS.md): a bare Hono app that
 * forwards every request to `RUNNER_URL` + `/_runner` + path with undici's
 * `Pool.request`, adding only the runner token. Env: RUNNER_URL,
 * RUNNER_SECRET, RUNNER_ID, HOST (default 127.0.0.1), PORT (default 0).
 * Prints `listening on http://HOST:PORT` when ready.
 */
const { RUNNER_URL, RUNNER_SECRET, RUNNER_ID } = process.env;
if (!RUNNER_URL || !RUNNER_SECRET || !RUNNER_ID) {
  console.error('bare-passthrough: set RUNNER_URL, RUNNER_SECRET and RUNNER_ID');
  process.exit(2);
}
const host = process.env.HOST ?? '127.0.0.1';
const sign = createRunnerSigner({ secret: RUNNER_SECRET }, { hs256: nodeHs256({ secret: RUNNER_SECRET }) });
const pool = new Pool(RUNNER_URL, { connections: 128, pipelining: 1, keepAliveTimeout: 30_000 });

const app = new Hono().all('*', async (c) => {
  const url = c.req.url;
  const path = '/_runner' + url.slice(url.indexOf('/', url.indexOf('//') + 2));
  const { statusCode, headers, body } = await pool.request({
    method: c.req.method as 'GET',
    path,
    headers: { authorization: `Bearer ${await sign(RUNNER_ID, { method: c.req.method, path })}` },
  });
  // Bytes (not an ArrayBuffer) keep @hono/node-server on its fast path, which writes them without a stream.
  return new Response((await body.bytes()) as Uint8Array<ArrayBuffer>, {
    status: statusCode,
    headers: { 'content-type': String(headers['content-type'] ?? 'application/octet-stream') },
  });
});

serve({ fetch: app.fetch, hostname: host, port: Number(process.env.PORT ?? 0) }, (info) =>
  console.log(`listening on http://${host}:${info.port}`),
);
