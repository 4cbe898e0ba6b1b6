import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { AppError } from '../../shared/errors.ts';
import {
  GenerateRequest,
  ImageDone,
  RefineRequest,
  type ImageEvent,
  MAX_IMAGE_BYTES,
} from '../../shared/schemas/images.ts';
import { requestCallOptions as call } from '../call-options.ts';
import type { AppDeps, AppEnv } from '../env.ts';
import { fieldError, validate } from '../validate.ts';
import { bytesToBase64 } from '../web/base64.ts';

/** OpenAI's `size`: `WIDTHxHEIGHT` (or `auto`, the model's own size). */
const Size = z
  .string()
  .regex(/^(auto|\d{2,4}x\d{2,4})$/, 'WIDTHxHEIGHT, e.g. 512x512, or auto')
  .optional();

/** What OpenAI's image requests share, and the extensions of ours they accept (negative prompt, steps, seed…). */
const OpenAIFields = {
  model: z.string().trim().min(1).max(128).optional(),
  n: z.number().int().min(1).max(4).default(1),
  size: Size,
  response_format: z
    .enum(['b64_json', 'url'])
    .default('b64_json')
    .refine((f) => f === 'b64_json', 'only b64_json: this server keeps no image files to link to'),
  output_format: z.literal('png', 'only png').optional(),
  quality: z.string().max(32).optional(),
  style: z.string().max(32).optional(),
  user: z.string().max(256).optional(),
};

/** `POST /v1/images/generations`' body. */
export const OpenAIGeneration = z.object({
  ...OpenAIFields,
  ...GenerateRequest.omit({ model_type: true, width: true, height: true }).shape,
});

const { model_type: _model, width: _width, height: _height, ...refineFields } = RefineRequest.shape;
/** `POST /v1/images/edits`' fields (multipart or JSON). */
export const OpenAIEdit = z.object({
  ...OpenAIFields,
  ...refineFields,
  mask: z.undefined('mask: inpainting is not supported here; leave it out and the whole image is refined').optional(),
});

/**
 * OpenAI's image API over the Stable Diffusion pipeline: `POST /v1/images/generations` (text to image) and
 * `POST /v1/images/edits` (img2img; multipart like OpenAI's clients send, or JSON with `image` as base64 or a data
 * URL). `n` images are drawn one after another with seeds `seed`, `seed + 1`…; the answer is `{created, data:
 * [{b64_json}]}` once all are done.
 */
export function openAIImageRoutes(deps: Pick<AppDeps, 'inference'>) {
  return new Hono<AppEnv>()
    .post('/images/generations', validate('json', OpenAIGeneration), async (c) => {
      const { model, n, size, prompt, negative_prompt, steps, seed, guidance_scale, scheduler } = c.req.valid('json');
      const request = { model_type: model, prompt, negative_prompt, steps, guidance_scale, scheduler, ...sides(size) };
      return answer(c, n, seed, (s) => deps.inference.generateImage({ ...request, seed: s }, call(c)));
    })
    .post('/images/edits', async (c) => {
      const parsed = OpenAIEdit.safeParse(await editBody(c));
      if (!parsed.success) throw fieldError(parsed.error, 'body');
      const { model, n, size, mask: _mask, response_format: _f, output_format: _o, ...rest } = parsed.data;
      const request = { ...rest, model_type: model, ...sides(size) };
      return answer(c, n, rest.seed, (s) => deps.inference.refineImage({ ...request, seed: s }, call(c)));
    });
}

function sides(size: string | undefined): { width?: number; height?: number } {
  if (!size || size === 'auto') return {};
  const [width, height] = size.split('x').map(Number) as [number, number];
  for (const [param, v] of [
    ['width', width],
    ['height', height],
  ] as const) {
    const issue = GenerateRequest.shape.width.safeParse(v);
    if (!issue.success)
      throw new AppError(400, `size: ${param} ${v}: ${issue.error.issues[0]!.message}`, { param: 'size' });
  }
  return { width, height };
}

/** Draws `n` images (seeds from `seed`, else random per image) and answers OpenAI's `{created, data}`. */
async function answer(
  c: Context<AppEnv>,
  n: number,
  seed: number | undefined,
  draw: (seed: number | undefined) => Promise<AsyncIterable<ImageEvent>>,
): Promise<Response> {
  const data: { b64_json: string }[] = [];
  for (let i = 0; i < n; i++) {
    let done: ImageDone | undefined;
    for await (const event of await draw(seed === undefined ? undefined : (seed + i) % 0x100000000)) {
      if ('status' in event) done = event;
    }
    if (!done) throw new AppError(502, 'The image stream ended without an image', { code: 'incomplete_stream' });
    data.push({ b64_json: done.image });
  }
  return c.json({ created: Math.floor(Date.now() / 1000), data, output_format: 'png' });
}

/** The edit request's fields: from multipart (OpenAI's clients: `image` a file, numbers as text) or JSON. */
async function editBody(c: Context<AppEnv>): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!type.startsWith('multipart/form-data'))
    return c.req.json().catch(() => {
      throw new AppError(400, 'body: send JSON or multipart/form-data', { param: 'body' });
    });
  const form = await c.req.formData().catch(() => {
    throw new AppError(400, 'body: malformed multipart/form-data', { param: 'body' });
  });
  const body: Record<string, unknown> = {};
  for (const [key, value] of form.entries()) {
    const name = key === 'image[]' ? 'image' : key;
    if (name === 'image' && body.image !== undefined)
      throw new AppError(400, 'image: send one image; this server refines one image per request', { param: 'image' });
    if (typeof value !== 'string') {
      if (name !== 'image') {
        body[name] = 'a file';
        continue;
      }
      if (value.size > MAX_IMAGE_BYTES)
        throw new AppError(400, `image: ${value.size} bytes, more than ${MAX_IMAGE_BYTES} (10 MB)`, { param: 'image' });
      body.image = bytesToBase64(new Uint8Array(await value.arrayBuffer()));
    } else
      body[name] = NUMERIC.has(name) && value.trim() !== '' && !Number.isNaN(Number(value)) ? Number(value) : value;
  }
  return body;
}

const NUMERIC = new Set(['n', 'steps', 'seed', 'guidance_scale', 'strength']);
