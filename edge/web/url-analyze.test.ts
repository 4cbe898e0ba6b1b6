import type { IncomingMessage, ServerResponse } from 'node:http';
import { localSite } from '../../test/helpers/local-site.ts';
import { appErrorOf } from '../../test/helpers/rejection.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGuardedFetch } from '../net/ssrf.ts';
import { analyzeUrl } from './url-analyze.ts';

let origin: string;
const hits: string[] = [];

function route(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url!, 'http://x');
  hits.push(`${req.method} ${url.pathname} ${req.headers.range ?? ''}`.trim());
  const body = 'x'.repeat(1234);
  switch (url.pathname) {
    case '/file':
      res.writeHead(200, { 'content-type': 'application/pdf', 'content-length': 1234, 'x-custom': 'yes' });
      return void res.end(req.method === 'HEAD' ? undefined : body);
    case '/no-head':
      if (req.method === 'HEAD') return void res.writeHead(405, { allow: 'GET' }).end();
      if (req.headers.range === 'bytes=0-0') {
        res.writeHead(206, { 'content-type': 'video/mp4', 'content-range': 'bytes 0-0/987654', 'content-length': 1 });
        return void res.end('x');
      }
      return void res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': 987654 }).end('x'.repeat(987654));
    case '/chunked-head':
      // HEAD works but gives no length; the ranged GET does.
      if (req.method === 'HEAD') return void res.writeHead(200, { 'content-type': 'text/html' }).end();
      res.writeHead(206, { 'content-type': 'text/html', 'content-range': 'bytes 0-0/4321' });
      return void res.end('<');
    case '/unknown':
      // No length anywhere: chunked bodies, the range ignored.
      res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' });
      if (req.method === 'HEAD') return void res.end();
      res.write('some ');
      return void res.end('text');
    case '/missing':
      return void res.writeHead(404, { 'content-type': 'text/plain', 'content-length': 9 }).end('not found');
    case '/moved':
      return void res.writeHead(301, { location: `${origin}/file?from=moved` }).end();
    case '/to-metadata':
      return void res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    case '/to-private':
      return void res.writeHead(307, { location: 'http://10.0.0.1/admin' }).end();
    default:
      res.writeHead(500).end();
  }
}

let site: Awaited<ReturnType<typeof localSite>>;
beforeAll(async () => {
  site = await localSite(route);
  origin = site.origin;
});

afterAll(() => site.close());

const fetch = createGuardedFetch({ allowlist: ['127.0.0.1'] });
const strict = createGuardedFetch({ allowlist: [] });

const failure = appErrorOf;

describe('analyzeUrl', () => {
  it('describes a URL from its HEAD', async () => {
    hits.length = 0;
    const result = await analyzeUrl(`${origin}/file?q=1`, { fetch });
    expect(result).toMatchObject({
      url: `${origin}/file?q=1`,
      domain: '127.0.0.1',
      path: '/file',
      content_type: 'application/pdf',
      size: 1234,
      status: 200,
    });
    expect(result.headers).toMatchObject({ 'content-length': '1234', 'x-custom': 'yes' });
    expect(hits).toEqual(['HEAD /file']);
  });

  it('falls back to a one-byte ranged GET when HEAD is refused', async () => {
    hits.length = 0;
    const result = await analyzeUrl(`${origin}/no-head`, { fetch });
    expect(result).toMatchObject({ size: 987654, status: 200, content_type: 'video/mp4' });
    expect(result.headers['content-length']).toBe('987654');
    expect(result.headers['content-range']).toBeUndefined();
    expect(hits).toEqual(['HEAD /no-head', 'GET /no-head bytes=0-0']);
  });

  it('takes the size from the ranged GET when HEAD gives none', async () => {
    const result = await analyzeUrl(`${origin}/chunked-head`, { fetch });
    expect(result).toMatchObject({ size: 4321, status: 200, content_type: 'text/html' });
  });

  it('reports a size of null when no answer gives one', async () => {
    const result = await analyzeUrl(`${origin}/unknown`, { fetch });
    expect(result).toMatchObject({ size: null, status: 200, content_type: 'text/plain' });
  });

  it('reports an error status as the status of the resource', async () => {
    const result = await analyzeUrl(`${origin}/missing`, { fetch });
    expect(result).toMatchObject({ status: 404, size: 9 });
  });

  it('follows redirects and reports the final URL', async () => {
    const result = await analyzeUrl(`${origin}/moved`, { fetch });
    expect(result).toMatchObject({ url: `${origin}/file?from=moved`, path: '/file', size: 1234, status: 200 });
  });

  it.each(['/to-metadata', '/to-private'])('refuses a redirect %s to a private address', async (path) => {
    const err = await failure(analyzeUrl(`${origin}${path}`, { fetch }));
    expect(err).toMatchObject({ status: 400, code: 'ssrf_blocked' });
  });

  it('refuses a loopback address in any spelling', async () => {
    const port = new URL(origin).port;
    for (const url of [`http://[::ffff:127.0.0.1]:${port}/file`, `http://0x7f000001:${port}/file`, origin]) {
      const err = await failure(analyzeUrl(url, { fetch: strict }));
      expect(err).toMatchObject({ status: 400, code: 'ssrf_blocked' });
    }
  });

  it('names the url field when the URL does not parse', async () => {
    const err = await failure(analyzeUrl('not a url', { fetch }));
    expect(err).toMatchObject({ status: 400, param: 'url' });
    expect(err.message).toMatch(/^url: /);
  });
});
