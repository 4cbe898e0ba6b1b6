import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import { createGuardedFetch, readTextCapped } from './ssrf.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

async function serve(handler: Handler): Promise<{ server: Server; origin: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

let a: Awaited<ReturnType<typeof serve>>;
let b: Awaited<ReturnType<typeof serve>>;

const echo: Handler = (req, res, body) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
};

beforeAll(async () => {
  a = await serve((req, res, body) => {
    const url = new URL(req.url!, 'http://x');
    const to = url.searchParams.get('to');
    if (url.pathname === '/ok') return res.end('hello');
    if (url.pathname === '/redirect')
      return res.writeHead(Number(url.searchParams.get('status') ?? 302), { location: to! }).end();
    if (url.pathname === '/loop') return res.writeHead(302, { location: '/loop' }).end();
    if (url.pathname === '/big') return res.end('x'.repeat(100_000));
    if (url.pathname === '/hang') return;
    if (url.pathname === '/stall') return res.writeHead(200).write('partial');
    if (url.pathname === '/late') return setTimeout(() => res.end('late'), 300);
    echo(req, res, body);
  });
  b = await serve(echo);
});

afterAll(() => {
  for (const { server } of [a, b]) {
    server.closeAllConnections();
    server.close();
  }
});

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('expected a rejection'),
    (err: unknown) => err,
  );
}

const guarded = createGuardedFetch({ allowlist: ['127.0.0.1'] });

describe('createGuardedFetch', () => {
  it('refuses 127.0.0.1 unless allow-listed, before connecting', async () => {
    const before = a.hits.length;
    const err = (await rejection(createGuardedFetch()(`${a.origin}/ok`))) as AppError;
    expect([err.status, err.code]).toEqual([400, 'ssrf_blocked']);
    expect(err.message).toContain('127.0.0.1 is a loopback address (127.0.0.0/8)');
    expect(a.hits.length).toBe(before);

    const res = await guarded(`${a.origin}/ok`);
    expect([res.status, await res.text(), res.url]).toEqual([200, 'hello', `${a.origin}/ok`]);
  });

  it('re-checks each redirect', async () => {
    for (const to of [
      'http://10.0.0.1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]:1/',
      'file:///etc/passwd',
    ]) {
      const err = (await rejection(guarded(`${a.origin}/redirect?to=${encodeURIComponent(to)}`))) as AppError;
      expect(err.code, to).toBe('ssrf_blocked');
    }
  });

  it('follows allowed redirects and reports the final URL', async () => {
    const res = await guarded(`${a.origin}/redirect?to=${encodeURIComponent(`${b.origin}/there`)}`);
    expect(res.url).toBe(`${b.origin}/there`);
    expect((await res.json()).url).toBe('/there');
  });

  it('drops credentials when a redirect changes origin, keeps them on the same origin', async () => {
    const headers = { authorization: 'Bearer s3cret', cookie: 'sid=1', 'x-api-key': 'k', accept: 'application/json' };
    const cross = await guarded(`${a.origin}/redirect?to=${encodeURIComponent(`${b.origin}/x`)}`, { headers });
    const seen = (await cross.json()).headers;
    expect(seen).not.toHaveProperty('authorization');
    expect(seen).not.toHaveProperty('cookie');
    expect(seen).not.toHaveProperty('x-api-key');
    expect(seen.accept).toBe('application/json');

    const same = await guarded(`${a.origin}/redirect?to=/echo`, { headers });
    expect((await same.json()).headers).toMatchObject({
      authorization: 'Bearer s3cret',
      cookie: 'sid=1',
      'x-api-key': 'k',
    });
  });

  it('turns POST into GET on 303 and keeps it on 307', async () => {
    const post = { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } };
    const after303 = await (await guarded(`${a.origin}/redirect?status=303&to=/echo`, post)).json();
    expect([after303.method, after303.body, after303.headers['content-type']]).toEqual(['GET', '', undefined]);
    const after307 = await (await guarded(`${a.origin}/redirect?status=307&to=/echo`, post)).json();
    expect([after307.method, after307.body]).toEqual(['POST', '{"a":1}']);
  });

  it('stops after maxRedirects', async () => {
    const err = (await rejection(
      createGuardedFetch({ allowlist: ['127.0.0.1'], maxRedirects: 3 })(`${a.origin}/loop`),
    )) as AppError;
    expect([err.status, err.code]).toEqual([502, 'too_many_redirects']);
    expect(err.message).toContain('redirected more than 3 times');
  });

  it("honours redirect: 'manual' and 'error'", async () => {
    const res = await guarded(`${a.origin}/redirect?to=/ok`, { redirect: 'manual' });
    expect([res.status, res.headers.get('location')]).toEqual([302, '/ok']);
    const err = (await rejection(guarded(`${a.origin}/redirect?to=/ok`, { redirect: 'error' }))) as AppError;
    expect(err.code).toBe('upstream_redirect');
  });

  it('errors the body past maxBytes', async () => {
    const res = await guarded(`${a.origin}/big`, { maxBytes: 1000 });
    expect(res.status).toBe(200);
    const err = (await rejection(res.text())) as AppError;
    expect([err.status, err.code]).toEqual([502, 'response_too_large']);
    expect(err.message).toBe(`the response of ${a.origin}/big is larger than 1000 bytes`);
    expect(await (await guarded(`${a.origin}/big`, { maxBytes: 100_000 })).text()).toHaveLength(100_000);
    expect(
      await (
        await createGuardedFetch({ allowlist: ['127.0.0.1'], maxBytes: 10 })(`${a.origin}/big`, { maxBytes: 0 })
      ).text(),
    ).toHaveLength(100_000);
  });

  it('readTextCapped reads a prefix and reports truncation', async () => {
    expect(await readTextCapped(await guarded(`${a.origin}/big`), 100)).toEqual({
      text: 'x'.repeat(100),
      truncated: true,
      bytes: 100,
    });
    expect(await readTextCapped(await guarded(`${a.origin}/big`, { maxBytes: 50 }), 100)).toMatchObject({
      truncated: true,
    });
    expect(await readTextCapped(await guarded(`${a.origin}/ok`), 5)).toEqual({
      text: 'hello',
      truncated: false,
      bytes: 5,
    });
    expect(await readTextCapped(new Response('héllo'), 2)).toEqual({ text: 'h', truncated: true, bytes: 2 });
    expect(await readTextCapped(new Response(null), 2)).toEqual({ text: '', truncated: false, bytes: 0 });
  });

  it('times out a server that never answers, and a body that never ends', async () => {
    const err = (await rejection(guarded(`${a.origin}/hang`, { timeoutMs: 100 }))) as AppError;
    expect([err.status, err.code]).toEqual([504, 'upstream_timeout']);
    expect(err.message).toBe(`no complete answer from ${a.origin}/hang within 100 ms`);

    const res = await guarded(`${a.origin}/stall`, { timeoutMs: 200 });
    expect(((await rejection(res.text())) as AppError).code).toBe('upstream_timeout');
  });

  it('timeoutMs: 0 sets no limit', async () => {
    const res = await createGuardedFetch({ allowlist: ['127.0.0.1'], timeoutMs: 50 })(`${a.origin}/late`, {
      timeoutMs: 0,
    });
    expect(await res.text()).toBe('late');
  });

  it("rejects with the caller's abort reason", async () => {
    const controller = new AbortController();
    const pending = guarded(`${a.origin}/hang`, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('client left')), 20);
    expect(((await rejection(pending)) as Error).message).toBe('client left');

    const stalled = new AbortController();
    const res = await guarded(`${a.origin}/stall`, { signal: stalled.signal });
    stalled.abort();
    expect(((await rejection(res.text())) as Error).name).toBe('AbortError');
  });

  it('refuses URLs with credentials and names failures without the query', async () => {
    const guarded = createGuardedFetch({ allowlist: ['127.0.0.1'] });
    const creds = (await rejection(guarded('http://user:secret@127.0.0.1:1/x'))) as AppError;
    expect(creds).toMatchObject({ status: 400, code: 'ssrf_blocked' });
    expect(creds.message).not.toContain('secret');
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const down = (await rejection(guarded(`http://127.0.0.1:${port}/path?api_key=SECRET`))) as AppError;
    expect(down).toMatchObject({ status: 502, code: 'upstream_unreachable' });
    expect(down.message).toBe(`http://127.0.0.1:${port}/path could not be reached (ECONNREFUSED)`);
  });
});
