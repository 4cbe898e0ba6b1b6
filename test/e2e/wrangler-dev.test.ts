import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stop } from '../helpers/child-processes.ts';
import { freePort, npmRun, untilOk } from '../helpers/processes.ts';
import { listen, streamable } from '../helpers/mcp-servers.ts';
import { SCRIPTED_ANSWER, TINY_CATALOG, TOOL_ANSWER } from '../helpers/tiny-models.ts';
import sharp from 'sharp';
import { youtubeSite } from '../helpers/youtube-site.ts';
import { characterErrorRate, renderPage } from '../helpers/ocr-pages.ts';

/** `npm run dev`: a runner (on the tiny models' catalog) plus the edge under `wrangler dev` (workerd, local D1). */
describe('npm run dev (wrangler dev edge + runner)', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'edgerunner-wrangler-'));
  let edge = '';
  let child: ReturnType<typeof npmRun>;
  let mcp: Awaited<ReturnType<typeof listen>>;
  let page: Server;
  let pageUrl = '';
  const video = Buffer.from(Array.from({ length: 150_000 }, (_, i) => (i * 7) % 256));
  let youtube: Awaited<ReturnType<typeof youtubeSite>>;

  beforeAll(async () => {
    mcp = await listen(streamable);
    youtube = await youtubeSite([
      { id: 'dQw4w9WgXcQ', title: 'Vidéo', author: 'Auteur', lengthSeconds: 9, media: video },
    ]);
    page = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=windows-1252' });
      res.end(
        Buffer.from(
          '<html><body><article><h1>Caf\xe9</h1><p>Cr\xe8me br\xfbl\xe9e.</p></article></body></html>',
          'latin1',
        ),
      );
    });
    await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
    pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;
    const edgePort = await freePort();
    edge = `http://127.0.0.1:${edgePort}`;
    const catalog = join(stateDir, 'models.json');
    writeFileSync(catalog, JSON.stringify(TINY_CATALOG));
    child = npmRun('dev', {
      EDGE_PORT: String(edgePort),
      // The runner takes a free port itself (no race with other tests between picking a port and listening).
      RUNNER_PORT: '0',
      DEV_STATE_DIR: stateDir,
      MODELS_FILE: catalog,
      SSRF_ALLOWLIST: '127.0.0.1',
      YOUTUBE_ORIGIN: youtube.origin,
    });
    await untilOk(`${edge}/health`, child, { timeoutMs: 90_000 });
  });
  afterAll(async () => {
    if (child) await stop(child);
    mcp?.server.closeAllConnections();
    mcp?.server.close();
    page?.close();
    youtube?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('serves /v1/models from the runner and keeps sessions in D1', async () => {
    const models = await fetch(`${edge}/v1/models`);
    expect(models.status).toBe(200);
    expect((await models.json()).models).toContain('tiny-chat');
    const first = await fetch(`${edge}/v1/session`);
    const id = first.headers.get('x-session-id')!;
    expect(await first.json()).toEqual({ session_id: id, current_model: null, has_model_loaded: false });
    const again = await fetch(`${edge}/v1/session`, { headers: { 'x-session-id': id } });
    expect(again.headers.get('x-session-id')).toBe(id);
  });

  it('answers chat and text completions (fill-in-the-middle too) through workerd to the runner', async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${edge}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const chat = await post('/v1/chat/completions', {
      model: 'tiny-chat',
      temperature: 0,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(chat.status).toBe(200);
    const sse = await chat.text();
    expect(sse).toContain('data: [DONE]');
    const content = sse
      .split('\n\n')
      .filter((e) => e.startsWith('data: {'))
      .map((e) => JSON.parse(e.slice(6)).choices[0]?.delta?.content ?? '')
      .join('');
    expect(content).toBe(SCRIPTED_ANSWER);
    const text = await (await post('/v1/completions', { model: 'tiny-chat', prompt: 'Once', temperature: 0 })).json();
    expect(text.choices[0]).toMatchObject({ text: SCRIPTED_ANSWER, finish_reason: 'stop' });
    const fill = await post('/v1/completions', { model: 'tiny-fim', prompt: 'def f(', suffix: '):', temperature: 0 });
    expect((await fill.json()).choices[0].text).toBe(SCRIPTED_ANSWER);
  });

  it("runs an /llm-exec round in workerd: the runner's model calls an MCP tool, events streamed, thread in D1", async () => {
    const res = await fetch(`${edge}/llm-exec/round/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'tiny-tools',
        new_thread: true,
        llmConfig: { temperature: 0 },
        messages: [{ role: 'user', content: 'ping it' }],
        tools: [{ type: 'mcp', server_label: 'local', server_url: `${mcp.url}/mcp`, allowed_tools: ['ping'] }],
      }),
    });
    expect(res.status).toBe(200);
    const events = (await res.text())
      .split('\n\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => JSON.parse(line.replace('data: ', '')) as Record<string, unknown>);
    expect(events.map((e) => e.type).filter((t) => t !== 'chunk')).toEqual([
      'start',
      'tool_call',
      'tool_result',
      'end',
    ]);
    expect(events.find((e) => e.type === 'tool_result')).toMatchObject({ tool_name: 'local__ping', result: 'pong' });
    expect(
      events
        .filter((e) => e.type === 'chunk')
        .map((e) => e.content)
        .join(''),
    ).toBe(TOOL_ANSWER);
    const end = events.at(-1)!;
    const thread = await (await fetch(`${edge}/llm-exec/threads/${end.thread_id}`)).json();
    expect(thread.messages).toHaveLength(4);
  });

  it('runs the web tools of /v1/ai/process in workerd (SSRF guard, HTML parsing, charsets)', async () => {
    const res = await fetch(`${edge}/v1/ai/process`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tool: 'url_extract', config: { url: pageUrl, selectors: ['h1', 'p'] } }),
    });
    expect(res.status).toBe(200);
    const events = (await res.text())
      .split('\n\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => JSON.parse(line.slice(6)));
    expect(events).toEqual([
      { selector: 'h1', content: 'Café' },
      { selector: 'p', content: 'Crème brûlée.' },
    ]);
    const refused = await fetch(`${edge}/v1/ai/process`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tool: 'url_analyze', config: { url: 'http://10.1.2.3/' } }),
    });
    expect(refused.status).toBe(400);

    // youtube_stream: youtubei.js in workerd, against the YouTube stand-in.
    const yt = await fetch(`${edge}/v1/ai/process`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tool: 'youtube_stream', config: { video_id: 'dQw4w9WgXcQ' } }),
    });
    expect(yt.status).toBe(200);
    const seen = (await yt.text())
      .split('\n\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => JSON.parse(line.slice(6)) as Record<string, unknown>);
    expect(seen[0]).toEqual({ title: 'Vidéo', author: 'Auteur', length: 9 });
    const chunks = seen.filter((e) => 'chunk' in e).map((e) => Buffer.from(String(e.chunk), 'base64'));
    expect(Buffer.concat(chunks)).toEqual(video);
    expect(seen.at(-1)).toEqual({ status: 'completed', received: video.length });
  });

  it('reads an image through workerd on the runner (OCR with the real PaddleOCR models), also as the ocr tool', async () => {
    const page = await renderPage({
      name: 'e2e',
      kind: 'clean',
      seed: 5,
      font: 'DejaVu Serif',
      fontSize: 26,
      width: 900,
      lineCount: 4,
    });
    const image = page.png.toString('base64');
    const res = await fetch(`${edge}/v1/images/ocr`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image }),
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.model).toBe('PP-OCRv4');
    expect(characterErrorRate(page.lines.join('\n'), body.text)).toBeLessThan(0.02);
    const tool = await fetch(`${edge}/v1/ai/process`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tool: 'ocr', config: { image: 'data:image/bmp;base64,Qk0=' } }),
    });
    expect(tool.status).toBe(400);
    expect((await tool.json()).error.param).toBe('config.image');

    // CLIP labelling (the tiny generated CLIP of the runner's catalog) through workerd.
    const green = await sharp({ create: { width: 50, height: 50, channels: 3, background: '#00ff00' } })
      .png()
      .toBuffer();
    const analyzed = await fetch(`${edge}/v1/images/analyze`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image: green.toString('base64'), labels: ['a red thing', 'a green thing'] }),
    });
    expect(analyzed.status).toBe(200);
    expect(await analyzed.json()).toMatchObject({ model: 'tiny-clip', best_label: 'a green thing' });
  });

  it('draws and refines images through workerd on the runner (SSE, the ai/process tool, OpenAI multipart edits)', async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${edge}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const res = await post('/v1/ai/process', {
      tool: 'image_generation',
      config: { model_type: 'sdxl/turbo', prompt: 'a photo of a cat', width: 64, height: 128, seed: 2 },
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = (await res.text())
      .split('\n\n')
      .filter((b) => b.startsWith('data: '))
      .map((b) => JSON.parse(b.slice(6)) as Record<string, unknown>);
    expect(events.slice(0, -1)).toEqual([{ progress: 0 }, { progress: 0.5 }, { progress: 1 }]);
    const done = events.at(-1)!;
    expect(done).toMatchObject({ status: 'completed', model: 'sdxl-turbo', seed: 2 });
    const meta = await sharp(Buffer.from(done.image as string, 'base64')).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 64, 128]);

    const form = new FormData();
    const png = await sharp({ create: { width: 72, height: 64, channels: 3, background: '#808000' } })
      .png()
      .toBuffer();
    form.set('image', new Blob([png], { type: 'image/png' }), 'in.png');
    form.set('prompt', 'a tree');
    form.set('model', 'tiny-sd');
    form.set('steps', '2');
    form.set('strength', '0.5');
    const edited = await fetch(`${edge}/v1/images/edits`, { method: 'POST', body: form });
    expect(edited.status).toBe(200);
    const body = (await edited.json()) as { data: { b64_json: string }[] };
    const editedMeta = await sharp(Buffer.from(body.data[0]!.b64_json, 'base64')).metadata();
    expect([editedMeta.width, editedMeta.height]).toEqual([72, 64]);
    const tooBig = await post('/v1/images/generate', { prompt: 'x', width: 2048 });
    expect(tooBig.status).toBe(400);
    expect((await tooBig.json()).error.param).toBe('width');
  });

  it('speaks through workerd on the runner (espeak-ng): the text_to_speech tool and OpenAI /v1/audio/speech', async () => {
    const res = await fetch(`${edge}/v1/ai/process`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tool: 'text_to_speech', config: { text: 'Bonjour. Au revoir.' } }),
    });
    const events = (await res.text())
      .split('\n\n')
      .filter((b) => b.startsWith('data: '))
      .map((b) => JSON.parse(b.slice(6)) as Record<string, unknown>);
    expect(events.slice(0, -1).map((e) => e.progress)).toEqual([0, expect.any(Number), 100]);
    expect(events.at(-1)).toMatchObject({ status: 'completed', sample_rate: 22050 });
    const speech = await fetch(`${edge}/v1/audio/speech`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'Hello.', voice: 'en-us' }),
    });
    expect(speech.headers.get('content-type')).toBe('audio/wav');
    const wav = new Uint8Array(await speech.arrayBuffer());
    expect(new TextDecoder().decode(wav.subarray(0, 4))).toBe('RIFF');
    expect(wav.length).toBeGreaterThan(10_000);
  });

  it('serves /monitor, /docs and their bundles from our own assets under wrangler dev, and /openapi.json', async () => {
    const page = await fetch(`${edge}/monitor`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/monitor/plotly.min.js');
    const plotly = await fetch(`${edge}/monitor/plotly.min.js`);
    expect(plotly.status).toBe(200);
    expect((await plotly.arrayBuffer()).byteLength).toBeGreaterThan(1_000_000);
    expect((await fetch(`${edge}/docs`)).status).toBe(200);
    expect((await fetch(`${edge}/docs/swagger-ui-bundle.js`)).status).toBe(200);
    const document = await (await fetch(`${edge}/openapi.json`)).json();
    expect(document.paths['/llm-exec/round']).toBeDefined();
  });
});
