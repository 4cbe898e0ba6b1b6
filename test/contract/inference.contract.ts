import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import type { ChatEvent } from '../../shared/schemas/chat.ts';
import type { Inference } from '../../shared/inference.ts';
import { SystemSample } from '../../shared/schemas/system-metrics.ts';
import sharp from 'sharp';
import { imageGenerationContract } from './image-generation.contract.ts';
import { characterErrorRate, renderPage } from '../helpers/ocr-pages.ts';
import { SCRIPTED_ANSWER, TINY_CATALOG } from '../helpers/tiny-models.ts';

export interface ContractSubject {
  inference: Inference;
  cleanup?: () => void | Promise<void>;
}

/** The behaviour every `Inference` implementation owes the edge (local engines and remote runners alike). */
export function inferenceContract(name: string, make: () => Promise<ContractSubject>): void {
  describe(`Inference contract: ${name}`, () => {
    let subject: ContractSubject;
    beforeAll(async () => {
      subject = await make();
    });
    afterAll(async () => {
      await subject?.cleanup?.();
    });

    it('lists every catalog model with its kind, none loaded at start', async () => {
      const models = await subject.inference.listModels();
      const expected = Object.entries(TINY_CATALOG.models).map(([id, e]) => ({ id, kind: e.kind, loaded: false }));
      expect(models).toEqual(expected);
    });

    it('reports at least one runner with capacity and what it has loaded', async () => {
      const status = await subject.inference.status();
      expect(status.length).toBeGreaterThan(0);
      for (const s of status) {
        expect(s.id).toBeTruthy();
        expect(s.capacity).toBeGreaterThan(0);
        expect(s.busy).toBeGreaterThanOrEqual(0);
        expect(Array.isArray(s.loadedModels)).toBe(true);
        // The ONNX models' execution providers (CUDA only where onnxruntime-node's CUDA provider is installed).
        expect(s.onnxProviders?.at(-1)).toBe('cpu');
      }
    });

    it('reads system metrics: one reading per runner, in the document’s shape', async () => {
      const readings = await subject.inference.systemMetrics();
      const runners = (await subject.inference.status()).map((s) => s.id);
      expect(readings.map((r) => r.runner).sort()).toEqual(runners.sort());
      for (const r of readings) expect(SystemSample.parse(r.sample)).toEqual(r.sample);
    });

    it('reads the text of an image with the real PaddleOCR models, lines in reading order with boxes', async () => {
      const page = await renderPage({
        name: 'contract',
        kind: 'clean',
        seed: 7,
        font: 'DejaVu Sans',
        fontSize: 24,
        width: 900,
        lineCount: 6,
      });
      const result = await subject.inference.ocr({ image: `data:image/png;base64,${page.png.toString('base64')}` });
      expect(result).toMatchObject({ model: 'PP-OCRv4', width: page.width, height: page.height });
      expect(characterErrorRate(page.lines.join('\n'), result.text)).toBeLessThan(0.02);
      expect(result.lines).toHaveLength(page.lines.length);
      for (const line of result.lines) {
        expect(line.confidence).toBeGreaterThan(0.5);
        for (const [x, y] of line.box) {
          expect(x).toBeGreaterThanOrEqual(0);
          expect(x).toBeLessThanOrEqual(page.width);
          expect(y).toBeGreaterThanOrEqual(0);
          expect(y).toBeLessThanOrEqual(page.height);
        }
      }
      const tops = result.lines.map((l) => l.box[0][1]);
      expect(tops).toEqual([...tops].sort((a, b) => a - b));

      const notAnImage = subject.inference.ocr({ image: Buffer.from('plain text, not pixels').toString('base64') });
      await expect(notAnImage).rejects.toMatchObject({ status: 400, param: 'image' });
      await expect(
        subject.inference.ocr({ image: page.png.toString('base64'), model: 'tiny-chat' }),
      ).rejects.toMatchObject({ status: 400, param: 'model' });
      await expect(
        subject.inference.ocr({ image: page.png.toString('base64'), model: 'no-such-ocr' }),
      ).rejects.toMatchObject({ status: 404 });
    });

    it('labels an image with CLIP (the tiny generated one): the colour it shows wins, cached labels reused', async () => {
      const red = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#ff0000' } })
        .png()
        .toBuffer();
      const image = `data:image/png;base64,${red.toString('base64')}`;
      const labels = ['a photo of green', 'a photo of red', 'a photo of blue'];
      const result = await subject.inference.analyzeImage({ image, labels });
      expect(result.model).toBe('tiny-clip');
      expect(result.best_label).toBe('a photo of red');
      expect(result.labels.map((l) => l.label).sort()).toEqual([...labels].sort());
      expect(result.labels.reduce((a, l) => a + l.probability, 0)).toBeCloseTo(1, 6);
      await expect(subject.inference.analyzeImage({ image, labels, model: 'PP-OCRv4' })).rejects.toMatchObject({
        status: 400,
        param: 'model',
      });
    });

    imageGenerationContract(() => subject);

    it('speaks with espeak-ng: progress per sentence, a WAV, and a 400 naming an unknown language', async () => {
      const events = [];
      for await (const e of await subject.inference.speak({ text: 'Hello there. Goodbye.', language: 'en' }))
        events.push(e);
      expect(events.slice(0, -1)).toEqual([{ progress: 0 }, { progress: expect.any(Number) }, { progress: 100 }]);
      expect(events.at(-1)).toMatchObject({ status: 'completed', sample_rate: 22050 });
      await expect(subject.inference.speak({ text: 'x', language: 'zz' })).rejects.toMatchObject({
        status: 400,
        param: 'language',
      });
      const models = await subject.inference.listSpeechModels();
      expect(models.models.tts['espeak-ng']?.languages).toContain('fr');
    });

    it('loads a model with the document’s events, then lists it as loaded', async () => {
      const events = [];
      for await (const e of await subject.inference.loadModel('tiny-chat')) events.push(e);
      expect(events.slice(-1)).toEqual([{ status: 'loaded' }]);
      expect(events[0]).toEqual({ status: 'exists' });
      const models = await subject.inference.listModels();
      expect(models.find((m) => m.id === 'tiny-chat')?.loaded).toBe(true);
      expect((await subject.inference.status()).some((s) => s.loadedModels.includes('tiny-chat'))).toBe(true);
    });

    it('answers a chat request as a stream of events ending with usage', async () => {
      const events: ChatEvent[] = [];
      const stream = await subject.inference.chat(
        { model: 'tiny-chat', messages: [{ role: 'user', content: 'hi' }], temperature: 0 },
        { sessionId: 'contract-session' },
      );
      for await (const e of stream) events.push(e);
      const text = events.flatMap((e) => (e.type === 'text' ? [e.text] : [])).join('');
      expect(text).toBe(SCRIPTED_ANSWER);
      const done = events.at(-1);
      expect(done).toMatchObject({ type: 'done', finishReason: 'stop' });
      expect(done?.type === 'done' && done.usage.completion_tokens).toBeGreaterThan(0);
    });

    it('refuses unknown models with 404 before streaming', async () => {
      const load = await subject.inference.loadModel('no-such-model').catch((e: unknown) => e);
      expect(load).toBeInstanceOf(AppError);
      expect((load as AppError).status).toBe(404);
      const chat = await subject.inference
        .chat({ model: 'no-such-model', messages: [] }, { sessionId: 's' })
        .catch((e: unknown) => e);
      expect((chat as AppError).status).toBe(404);
    });

    it('stop is false when the session runs nothing; unload frees a loaded model once', async () => {
      expect(await subject.inference.stop('idle-session')).toBe(false);
      expect(await subject.inference.unloadModel('tiny-chat')).toBe(true);
      expect(await subject.inference.unloadModel('tiny-chat')).toBe(false);
    });
  });
}
