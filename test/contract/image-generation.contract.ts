import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { GenerateRequest, RefineRequest, type ImageDone, type ImageEvent } from '../../shared/schemas/images.ts';
import type { ContractSubject } from './inference.contract.ts';

async function drain(events: AsyncIterable<ImageEvent>) {
  const all: ImageEvent[] = [];
  for await (const event of events) all.push(event);
  return { progress: all.filter((e) => 'progress' in e), done: all.at(-1) as ImageDone };
}

/**
 * What image generation owes the edge in both topologies: the document's events (progress per step, then the PNG),
 * seeds that reproduce an image across the rpc, refusals before the stream, a cancelled run that frees the model.
 */
export function imageGenerationContract(subject: () => ContractSubject): void {
  describe('image generation and refinement (tiny generated Stable Diffusion pipelines)', () => {
    it('streams progress per step then a PNG; the same seed draws the same image', async () => {
      const request = GenerateRequest.parse({ prompt: 'a photo of a cat', seed: 11, width: 64, height: 128 });
      const first = await drain(await subject().inference.generateImage(request));
      expect(first.progress).toEqual([{ progress: 0 }, { progress: 0.5 }, { progress: 1 }]);
      expect(first.done).toMatchObject({ status: 'completed', model: 'sdxl-turbo', seed: 11, width: 64, height: 128 });
      const meta = await sharp(Buffer.from(first.done.image, 'base64')).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 64, 128]);
      const again = await drain(await subject().inference.generateImage(request));
      expect(again.done.image).toBe(first.done.image);
    });

    it('refines an image (img2img) with guidance on the SD layout', async () => {
      const png = await sharp({ create: { width: 80, height: 64, channels: 3, background: '#20a040' } })
        .png()
        .toBuffer();
      const request = RefineRequest.parse({
        model_type: 'tiny-sd',
        image: `data:image/png;base64,${png.toString('base64')}`,
        prompt: 'a green tree',
        negative_prompt: 'a dog',
        steps: 4,
        strength: 0.5,
      });
      const { progress, done } = await drain(await subject().inference.refineImage(request));
      expect(progress).toHaveLength(3);
      expect(done).toMatchObject({ model: 'tiny-sd', width: 80, height: 64 });
    });

    it('refuses before streaming: unknown model 404, too large 400 naming width, no image 400 naming image', async () => {
      const { inference } = subject();
      await expect(
        inference.generateImage(GenerateRequest.parse({ prompt: 'x', model_type: 'no-such-model' })),
      ).rejects.toMatchObject({ status: 404 });
      await expect(inference.generateImage(GenerateRequest.parse({ prompt: 'x', width: 1024 }))).rejects.toMatchObject({
        status: 400,
        param: 'width',
      });
      const text = Buffer.from('words, not pixels').toString('base64');
      await expect(
        inference.refineImage(RefineRequest.parse({ image: text, prompt: 'x', steps: 10 })),
      ).rejects.toMatchObject({ status: 400, param: 'image' });
    });

    it('cancels a run when the caller aborts, and draws the next', async () => {
      const controller = new AbortController();
      const request = GenerateRequest.parse({ model_type: 'tiny-sd', prompt: 'a red house', steps: 150 });
      const events = await subject().inference.generateImage(request, { signal: controller.signal });
      let seen = 0;
      const consumed = (async () => {
        for await (const _ of events) if (++seen === 2) controller.abort();
      })();
      // Aborted, the stream ends early: quietly or with an abort error, depending on where it was.
      await consumed.catch(() => undefined);
      expect(seen).toBeLessThan(150);
      const next = await drain(
        await subject().inference.generateImage(
          GenerateRequest.parse({ model_type: 'tiny-sd', prompt: 'a', steps: 1 }),
        ),
      );
      expect(next.done.status).toBe('completed');
    });
  });
}
