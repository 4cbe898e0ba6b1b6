import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderPage, type OcrPage } from '../../test/helpers/ocr-pages.ts';
import { localTestInference, testApp, TINY_CATALOG } from '../../test/helpers/test-app.ts';

let t: Awaited<ReturnType<typeof testApp>>;
let page: OcrPage;

beforeAll(async () => {
  t = await testApp();
  page = await renderPage({
    name: 'route',
    kind: 'clean',
    seed: 3,
    font: 'Liberation Serif',
    fontSize: 28,
    width: 800,
    lineCount: 3,
  });
});
afterAll(() => t.cleanup());

const post = (app: typeof t.app, path: string, body: unknown) =>
  app.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('POST /v1/images/ocr', () => {
  it('answers the text and lines; the ocr tool of /v1/ai/process answers the same', async () => {
    const image = `data:image/png;base64,${page.png.toString('base64')}`;
    const direct = await post(t.app, '/v1/images/ocr', { image });
    expect(direct.status).toBe(200);
    const body = await direct.json();
    expect(body.text.split('\n')).toEqual(page.lines);
    const unified = await post(t.app, '/v1/ai/process', { tool: 'ocr', config: { image } });
    expect(unified.status).toBe(200);
    expect(await unified.json()).toEqual(body);
  });

  it('names the field of a bad request: 400s for the image, the model; 404 for an unknown model', async () => {
    const cases: [string, unknown, number, string][] = [
      ['/v1/images/ocr', {}, 400, 'image'],
      ['/v1/images/ocr', { image: 'not base64!' }, 400, 'image'],
      ['/v1/images/ocr', { image: 'data:image/gif;base64,R0lGODlh' }, 400, 'image'],
      ['/v1/images/ocr', { image: Buffer.from('hello').toString('base64') }, 400, 'image'],
      ['/v1/images/ocr', { image: page.png.toString('base64'), model: 'tiny-chat' }, 400, 'model'],
      ['/v1/ai/process', { tool: 'ocr', config: { image: 42 } }, 400, 'config.image'],
      // Found bad on the runner (valid base64, no image): still named as the caller wrote it.
      [
        '/v1/ai/process',
        { tool: 'ocr', config: { image: Buffer.from('hello').toString('base64') } },
        400,
        'config.image',
      ],
    ];
    for (const [path, body, status, param] of cases) {
      const res = await post(t.app, path, body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect((await res.json()).error.param).toBe(param);
    }
    const unknown = await post(t.app, '/v1/images/ocr', { image: page.png.toString('base64'), model: 'nope' });
    expect(unknown.status).toBe(404);
  });

  it('is a 503 saying what is missing when the catalog has no OCR model', async () => {
    const models = Object.fromEntries(Object.entries(TINY_CATALOG.models).filter(([, e]) => e.kind !== 'ocr'));
    const bare = await testApp({ inference: localTestInference('bare', { models }) });
    const res = await post(bare.app, '/v1/images/ocr', { image: page.png.toString('base64') });
    expect(res.status).toBe(503);
    expect((await res.json()).error.message).toMatch(/no "ocr" model/);
    bare.cleanup();
  });

  it('GET /v1/images/models lists the image generation models of the catalog', async () => {
    const res = await t.app.request('/v1/images/models');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ models: ['sdxl-turbo', 'tiny-sd'] });
    const models = Object.fromEntries(Object.entries(TINY_CATALOG.models).filter(([, e]) => e.kind !== 'image'));
    const none = await testApp({ inference: localTestInference('none', { models }) });
    expect(await (await none.app.request('/v1/images/models')).json()).toEqual({ models: [] });
    none.cleanup();
  });
});

describe('POST /v1/images/analyze', () => {
  const blue = () =>
    sharp({ create: { width: 40, height: 30, channels: 3, background: '#0000ff' } })
      .png()
      .toBuffer();

  it('answers each label with its probability and the best; the image_analysis tool answers the same', async () => {
    const image = (await blue()).toString('base64');
    const labels = ['red', 'green', 'blue'];
    const direct = await post(t.app, '/v1/images/analyze', { image, labels });
    expect(direct.status).toBe(200);
    const body = await direct.json();
    expect(body).toMatchObject({ model: 'tiny-clip', best_label: 'blue' });
    expect(body.labels[0]).toMatchObject({ label: 'blue' });
    const unified = await post(t.app, '/v1/ai/process', { tool: 'image_analysis', config: { image, labels } });
    expect(await unified.json()).toEqual(body);
  });

  it('refuses no labels, more than 100, empty ones, a bad image, naming the field', async () => {
    const image = (await blue()).toString('base64');
    const cases: [unknown, string][] = [
      [{ image, labels: [] }, 'labels'],
      [{ image, labels: Array.from({ length: 101 }, (_, i) => `l${i}`) }, 'labels'],
      [{ image, labels: ['ok', ' '] }, 'labels.1'],
      [{ image: 'nope!', labels: ['a'] }, 'image'],
      [{ labels: ['a'] }, 'image'],
    ];
    for (const [body, param] of cases) {
      const res = await post(t.app, '/v1/images/analyze', body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect((await res.json()).error.param).toBe(param);
    }
  });
});
