import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExecDeps } from '../exec/exec-deps.ts';
import { testApp } from '../../test/helpers/test-app.ts';
import { youtubeSite } from '../../test/helpers/youtube-site.ts';

/** A page, a binary file and a redirect to a metadata address, on 127.0.0.1. */
let site: Server;
let base = '';
const file = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 251));
let t: Awaited<ReturnType<typeof testApp>>;
let youtube: Awaited<ReturnType<typeof youtubeSite>>;

beforeAll(async () => {
  site = createServer((req, res) => {
    if (req.url === '/page') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(
        '<html><body><nav>Menu</nav><article><h1>Titre</h1><p>Un été à Brest, sous la pluie fine.</p></article></body></html>',
      );
    } else if (req.url === '/file.bin') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.length });
      res.end(req.method === 'HEAD' ? undefined : file);
    } else if (req.url === '/to-metadata') {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  youtube = await youtubeSite([
    { id: 'dQw4w9WgXcQ', title: 'Titre', author: 'Auteur', lengthSeconds: 61, media: file },
  ]);
  const env = { YOUTUBE_ORIGIN: youtube.origin };
  t = await testApp({ extra: { exec: createExecDeps({ allowlist: ['127.0.0.1'], env }) } });
});
afterAll(() => {
  youtube.close();
  site.closeAllConnections();
  site.close();
  t.cleanup();
});

const process = (tool: string, config: unknown) =>
  t.app.request('/v1/ai/process', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tool, config }),
  });
const events = async (res: Response) =>
  (await res.text())
    .split('\n\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice(6)) as Record<string, unknown>);

describe('web tools through /v1/ai/process', () => {
  it('url_analyze answers the document shape', async () => {
    const res = await process('url_analyze', { url: `${base}/file.bin` });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      url: `${base}/file.bin`,
      domain: '127.0.0.1',
      path: '/file.bin',
      content_type: 'application/octet-stream',
      size: file.length,
      status: 200,
      headers: expect.objectContaining({ 'content-length': String(file.length) }),
    });
  });

  it('url_extract streams the readable text, or one event per selector', async () => {
    const readable = await events(await process('url_extract', { url: `${base}/page` }));
    expect(readable).toHaveLength(1);
    expect(readable[0]!.content).toContain('Un été à Brest, sous la pluie fine.');
    const picked = await events(await process('url_extract', { url: `${base}/page`, selectors: ['h1', 'nav'] }));
    expect(picked).toEqual([
      { selector: 'h1', content: 'Titre' },
      { selector: 'nav', content: 'Menu' },
    ]);
  });

  it('url_stream sends base64 chunks with progress, then completed; the bytes come back whole', async () => {
    const seen = await events(await process('url_stream', { url: `${base}/file.bin` }));
    const chunks = seen.filter((e) => 'chunk' in e);
    expect(Buffer.concat(chunks.map((e) => Buffer.from(String(e.chunk), 'base64')))).toEqual(file);
    expect(chunks.at(-1)).toMatchObject({ progress: 100, content_type: 'application/octet-stream' });
    expect(seen.at(-1)).toEqual({ status: 'completed', received: file.length });
  });

  it('refuses private targets, redirects to them included, and names bad config', async () => {
    const strict = await testApp();
    const local = await strict.app.request('/v1/ai/process', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tool: 'url_analyze', config: { url: `${base}/file.bin` } }),
    });
    expect(local.status).toBe(400);
    expect((await local.json()).error).toMatchObject({ code: 'ssrf_blocked' });
    strict.cleanup();

    const redirected = await process('url_extract', { url: `${base}/to-metadata` });
    expect(redirected.status).toBe(400);
    expect((await redirected.json()).error.message).toMatch(/169\.254\.169\.254.* is refused/);
    const missing = await process('url_stream', {});
    expect((await missing.json()).error.param).toBe('config.url');
    const upstream404 = await process('url_stream', { url: `${base}/nothing` });
    expect(upstream404.status).toBe(502);
  });

  it('youtube_stream sends title, author and length, then the video as url_stream chunks; failures are error events', async () => {
    const seen = await events(await process('youtube_stream', { video_id: 'dQw4w9WgXcQ' }));
    expect(seen[0]).toEqual({ title: 'Titre', author: 'Auteur', length: 61 });
    const chunks = seen.filter((e) => 'chunk' in e);
    expect(Buffer.concat(chunks.map((e) => Buffer.from(String(e.chunk), 'base64')))).toEqual(file);
    expect(chunks.at(-1)).toMatchObject({ progress: 100, content_type: 'video/mp4' });
    expect(seen.at(-1)).toEqual({ status: 'completed', received: file.length });

    const unknown = await process('youtube_stream', { video_id: 'AAAAAAAAAAA' });
    expect(unknown.status).toBe(200);
    expect(await events(unknown)).toEqual([{ error: 'YouTube: This video is unavailable (ERROR)' }]);

    const offline = await testApp({
      extra: { exec: createExecDeps({ allowlist: ['127.0.0.1'], env: { YOUTUBE_ORIGIN: 'http://127.0.0.1:9' } }) },
    });
    const res = await offline.app.request('/v1/ai/process', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tool: 'youtube_stream', config: { video_id: 'dQw4w9WgXcQ' } }),
    });
    expect(res.status).toBe(200);
    expect(await events(res)).toEqual([{ error: expect.stringMatching(/127\.0\.0\.1:9/) }]);
    offline.cleanup();

    const bad = await process('youtube_stream', { video_id: 'https://youtu.be/x' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.param).toBe('config.video_id');
  });
});
