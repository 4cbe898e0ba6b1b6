import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSSE } from '../../shared/sse.ts';
import { testApp } from '../../test/helpers/test-app.ts';

let t: Awaited<ReturnType<typeof testApp>>;
beforeAll(async () => {
  t = await testApp();
});
afterAll(() => t.cleanup());

const post = (path: string, body: unknown) =>
  t.app.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function events(res: Response): Promise<Record<string, unknown>[]> {
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const out: Record<string, unknown>[] = [];
  for await (const data of parseSSE(res.body!)) out.push(JSON.parse(data) as Record<string, unknown>);
  return out;
}

async function size(base64: string) {
  const meta = await sharp(Buffer.from(base64, 'base64')).metadata();
  return [meta.format, meta.width, meta.height];
}

const solidPng = async (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: '#4080c0' } })
    .png()
    .toBuffer();

describe('POST /v1/images/generate and /v1/images/refine (SSE)', () => {
  it('streams the document events; the image_generation tool of /v1/ai/process streams the same', async () => {
    const config = { model_type: 'sdxl/turbo', prompt: 'a photo of a cat', seed: 3 };
    const direct = await events(await post('/v1/images/generate', config));
    expect(direct.slice(0, -1)).toEqual([{ progress: 0 }, { progress: 0.5 }, { progress: 1 }]);
    const done = direct.at(-1)!;
    expect(done).toMatchObject({ status: 'completed', model: 'sdxl-turbo', seed: 3, width: 64, height: 64 });
    expect(await size(done.image as string)).toEqual(['png', 64, 64]);
    const unified = await events(await post('/v1/ai/process', { tool: 'image_generation', config }));
    expect(unified).toEqual(direct);
  });

  it('refines an image sent as a data URL; the image_refinement tool answers the same', async () => {
    const image = `data:image/png;base64,${(await solidPng(96, 64)).toString('base64')}`;
    const config = { image, prompt: 'a blue sky', steps: 4, strength: 0.5, seed: 1 };
    const direct = await events(await post('/v1/images/refine', config));
    expect(direct.filter((e) => 'progress' in e)).toHaveLength(3);
    expect(await size(direct.at(-1)!.image as string)).toEqual(['png', 96, 64]);
    const unified = await events(await post('/v1/ai/process', { tool: 'image_refinement', config }));
    expect(unified).toEqual(direct);
  });

  it('names the field of a bad request', async () => {
    const image = (await solidPng(64, 64)).toString('base64');
    const cases: [string, unknown, number, string][] = [
      ['/v1/images/generate', {}, 400, 'prompt'],
      ['/v1/images/generate', { prompt: ' ' }, 400, 'prompt'],
      ['/v1/images/generate', { prompt: 'x', width: 100 }, 400, 'width'],
      ['/v1/images/generate', { prompt: 'x', height: 4096 }, 400, 'height'],
      ['/v1/images/generate', { prompt: 'x', steps: 0 }, 400, 'steps'],
      ['/v1/images/generate', { prompt: 'x', scheduler: 'ddim' }, 400, 'scheduler'],
      ['/v1/images/generate', { prompt: 'x', seed: -1 }, 400, 'seed'],
      ['/v1/images/generate', { prompt: 'x', width: 512 }, 400, 'width'], // over this model's 256
      ['/v1/images/generate', { prompt: 'x', model_type: 'tiny-chat' }, 400, 'model_type'],
      ['/v1/images/generate', { prompt: 'x', model_type: 'nope' }, 404, ''],
      ['/v1/images/refine', { prompt: 'x' }, 400, 'image'],
      ['/v1/images/refine', { image, prompt: 'x', strength: 0 }, 400, 'strength'],
      ['/v1/images/refine', { image, prompt: 'x', strength: 0.1, steps: 5 }, 400, 'strength'],
      ['/v1/images/refine', { image, prompt: 'x' }, 400, 'strength'], // sdxl-turbo's 2 steps × 0.3
      ['/v1/images/refine', { image, prompt: 'x', width: 64 }, 400, 'height'],
      ['/v1/ai/process', { tool: 'image_generation', config: { prompt: 'x', width: 7 } }, 400, 'config.width'],
      ['/v1/ai/process', { tool: 'image_refinement', config: { image: 'x!', prompt: 'x' } }, 400, 'config.image'],
    ];
    for (const [path, body, status, param] of cases) {
      const res = await post(path, body);
      expect(res.status, JSON.stringify(body).slice(0, 120)).toBe(status);
      if (param) expect((await res.json()).error.param, JSON.stringify(body).slice(0, 120)).toBe(param);
    }
  });
});

describe("OpenAI's POST /v1/images/generations and /v1/images/edits", () => {
  it('answers b64_json PNGs of the asked size; n images with consecutive seeds', async () => {
    const res = await post('/v1/images/generations', { prompt: 'a red house', size: '128x64', n: 2, seed: 5 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { created: number; data: { b64_json: string }[] };
    expect(body.created).toBeGreaterThan(0);
    expect(body.data).toHaveLength(2);
    for (const d of body.data) expect(await size(d.b64_json)).toEqual(['png', 128, 64]);
    expect(body.data[0]!.b64_json).not.toBe(body.data[1]!.b64_json);
    const second = await post('/v1/images/generations', { prompt: 'a red house', size: '128x64', seed: 6 });
    expect(((await second.json()) as typeof body).data[0]!.b64_json).toBe(body.data[1]!.b64_json);
  });

  it('edits an image sent as multipart (as OpenAI clients send it) or as JSON', async () => {
    const png = await solidPng(64, 64);
    const form = new FormData();
    form.set('image', new Blob([png], { type: 'image/png' }), 'in.png');
    form.set('prompt', 'a green tree');
    form.set('model', 'tiny-sd');
    form.set('steps', '4');
    form.set('strength', '0.5');
    form.set('size', '64x128');
    form.set('seed', '8');
    const multipart = await t.app.request('/v1/images/edits', { method: 'POST', body: form });
    expect(multipart.status).toBe(200);
    const fromForm = (await multipart.json()) as { data: { b64_json: string }[] };
    expect(await size(fromForm.data[0]!.b64_json)).toEqual(['png', 64, 128]);
    const json = await post('/v1/images/edits', {
      image: png.toString('base64'),
      prompt: 'a green tree',
      model: 'tiny-sd',
      steps: 4,
      strength: 0.5,
      size: '64x128',
      seed: 8,
    });
    expect(((await json.json()) as typeof fromForm).data[0]!.b64_json).toBe(fromForm.data[0]!.b64_json);
  });

  it('refuses what it cannot do, naming the field, in OpenAI error shape', async () => {
    const png = (await solidPng(64, 64)).toString('base64');
    const cases: [string, unknown, string][] = [
      ['/v1/images/generations', { prompt: 'x', response_format: 'url' }, 'response_format'],
      ['/v1/images/generations', { prompt: 'x', size: 'big' }, 'size'],
      ['/v1/images/generations', { prompt: 'x', size: '100x100' }, 'size'],
      ['/v1/images/generations', { prompt: 'x', n: 9 }, 'n'],
      ['/v1/images/generations', { n: 1 }, 'prompt'],
      ['/v1/images/edits', { prompt: 'x' }, 'image'],
      ['/v1/images/edits', { image: png, prompt: 'x', mask: png }, 'mask'],
    ];
    for (const [path, body, param] of cases) {
      const res = await post(path, body);
      expect(res.status, JSON.stringify(body).slice(0, 100)).toBe(400);
      const error = ((await res.json()) as { error: { param: string; type: string } }).error;
      expect(error).toMatchObject({ param, type: 'invalid_request_error' });
    }
    const twoImages = new FormData();
    twoImages.append('image[]', new Blob([Buffer.from(png, 'base64')], { type: 'image/png' }), 'a.png');
    twoImages.append('image[]', new Blob([Buffer.from(png, 'base64')], { type: 'image/png' }), 'b.png');
    twoImages.set('prompt', 'x');
    const res = await t.app.request('/v1/images/edits', { method: 'POST', body: twoImages });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('image');
  });
});
