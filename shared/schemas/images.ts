import { z } from 'zod';

/** Most bytes of one input image, decoded (the document: 10 MB). */
export const MAX_IMAGE_BYTES = 10 * 1024 * 1024;

const DATA_URL = /^data:([^;,]*)(;[^,]*)?,/;
const ACCEPTED_TYPES = new Set(['image/png', 'image/jpeg', 'image/jpg', 'image/webp']);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The base64 text of an image field: a `data:image/png|jpeg|webp;base64,` URL or bare base64 (standard or
 * URL-safe alphabet, whitespace ignored), at most MAX_IMAGE_BYTES once decoded. What is wrong is the message;
 * undefined when it is fine.
 */
export function imageFieldIssue(value: string): string | undefined {
  let body = value;
  const url = DATA_URL.exec(value);
  if (url) {
    const type = url[1]!.toLowerCase();
    if (!ACCEPTED_TYPES.has(type))
      return `a data URL of ${type || 'no type'}; send image/png, image/jpeg or image/webp`;
    if (!/;base64$/i.test(url[2] ?? '')) return 'a data URL that is not base64; use data:image/…;base64,…';
    body = value.slice(url[0].length);
  } else if (value.startsWith('data:')) return 'a malformed data URL';
  const compact = body.replace(/\s+/g, '').replace(/-/g, '+').replace(/_/g, '/');
  if (!compact) return 'empty';
  if (!BASE64.test(compact) || compact.length % 4 === 1) return 'not valid base64';
  const bytes = Math.floor((compact.replace(/=+$/, '').length * 3) / 4);
  if (bytes > MAX_IMAGE_BYTES) return `${bytes} bytes once decoded, more than ${MAX_IMAGE_BYTES} (10 MB)`;
  return undefined;
}

/** The standard base64 of a valid image field (see imageFieldIssue): no data URL prefix, no whitespace. */
export function imageBase64(value: string): string {
  const url = DATA_URL.exec(value);
  const body = url ? value.slice(url[0].length) : value;
  return body.replace(/\s+/g, '').replace(/-/g, '+').replace(/_/g, '/');
}

/** An image field, checked (its bytes are decoded where the image is used). */
export const ImageField = z.string().superRefine((value, ctx) => {
  const issue = imageFieldIssue(value);
  if (issue) ctx.addIssue({ code: 'custom', message: issue });
});

/** `POST /v1/images/ocr` (and the `ocr` tool): the document's `{image}`, and the OCR model (default the catalog's first). */
export const OcrRequest = z.object({
  image: ImageField,
  model: z.string().min(1).max(128).optional(),
});
export type OcrRequest = z.infer<typeof OcrRequest>;

const Point = z.tuple([z.number(), z.number()]);

/** One line of text: its four corners in image pixels (top-left first, clockwise) and the mean character probability. */
export const OcrLine = z.object({
  text: z.string(),
  confidence: z.number(),
  box: z.tuple([Point, Point, Point, Point]),
});

/** The answer of OCR: the text in reading order (one line per line), the lines, the image's size, the model. */
export const OcrResult = z.object({
  model: z.string(),
  text: z.string(),
  lines: z.array(OcrLine),
  width: z.number().int(),
  height: z.number().int(),
});
export type OcrResult = z.infer<typeof OcrResult>;

/** Most labels one `analyze` request may score. */
export const MAX_LABELS = 100;

/** `POST /v1/images/analyze` (and the `image_analysis` tool): the document's `{image, labels}`, and the CLIP model. */
export const AnalyzeRequest = z.object({
  image: ImageField,
  labels: z
    .array(z.string().trim().min(1, 'labels are non-empty text').max(300))
    .min(1, 'give at least one label')
    .max(MAX_LABELS, `at most ${MAX_LABELS} labels`),
  model: z.string().min(1).max(128).optional(),
});
export type AnalyzeRequest = z.infer<typeof AnalyzeRequest>;

/** Each label with its probability (a softmax over the labels), most probable first, and the best label. */
export const AnalyzeResult = z.object({
  model: z.string(),
  labels: z.array(z.object({ label: z.string(), probability: z.number() })),
  best_label: z.string(),
});
export type AnalyzeResult = z.infer<typeof AnalyzeResult>;

/** The samplers image generation offers (diffusers' Euler and Euler ancestral). */
export const SAMPLERS = ['euler', 'euler_ancestral'] as const;
/** Most denoising steps of one request. */
export const MAX_STEPS = 150;
/** The image sides a request may ask for, in pixels (a model's catalog entry may narrow them). */
export const MIN_IMAGE_SIDE = 64;
export const MAX_IMAGE_SIDE = 2048;

const ImageSide = z
  .number()
  .int()
  .min(MIN_IMAGE_SIDE)
  .max(MAX_IMAGE_SIDE)
  .refine((v) => v % 8 === 0, 'a multiple of 8');

/** A model name; the document's section 9 spells `sdxl/turbo` what section 6 calls `sdxl-turbo`: both are accepted. */
const ModelType = z
  .string()
  .trim()
  .min(1)
  .max(128)
  .transform((name) => name.replaceAll('/', '-'));

/** What generation and refinement share. Defaults the document leaves to the model are the runner's (catalog). */
const DrawFields = {
  model_type: ModelType.optional(),
  prompt: z.string().trim().min(1, 'describe the image').max(4000),
  negative_prompt: z.string().max(4000).optional(),
  steps: z.number().int().min(1).max(MAX_STEPS).optional(),
  seed: z.number().int().min(0).max(0xffffffff).optional(),
  guidance_scale: z.number().min(0).max(30).optional(),
  scheduler: z.enum(SAMPLERS).optional(),
};

/**
 * `POST /v1/images/generate` (and the `image_generation` tool): the document's `{model_type, prompt,
 * negative_prompt, width, height, steps}`, plus `seed`, `guidance_scale` and `scheduler`. Width and height default to
 * the model's size (the document's 1024 unless the catalog says otherwise), steps to 20 (turbo models: 4).
 */
export const GenerateRequest = z.object({ ...DrawFields, width: ImageSide.optional(), height: ImageSide.optional() });
export type GenerateRequest = z.infer<typeof GenerateRequest>;

/** The document's default refinement strength. */
export const DEFAULT_STRENGTH = 0.3;

/**
 * `POST /v1/images/refine` (and `image_refinement`): img2img on `image`, redrawing `strength` (0–1], default 0.3) of
 * the schedule; `strength × steps` must reach one step. The image keeps its size (rounded down to a multiple of 8)
 * unless `width` and `height` ask for another (an extension: OpenAI's edits `size`).
 */
export const RefineRequest = z
  .object({
    ...DrawFields,
    image: ImageField,
    strength: z.number().gt(0).max(1).default(DEFAULT_STRENGTH),
    width: ImageSide.optional(),
    height: ImageSide.optional(),
  })
  .superRefine((r, ctx) => {
    if ((r.width === undefined) !== (r.height === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [r.width === undefined ? 'width' : 'height'],
        message: 'give both or neither',
      });
    if (r.steps !== undefined && Math.floor(r.steps * r.strength + 1e-9) < 1)
      ctx.addIssue({
        code: 'custom',
        path: ['strength'],
        message: `strength × steps must be at least 1 (here ${r.strength} × ${r.steps}): raise one of them`,
      });
  });
export type RefineRequest = z.infer<typeof RefineRequest>;

/** A generated image: PNG base64, its size, the seed that reproduces it and the model. */
export const ImageDone = z.object({
  status: z.literal('completed'),
  image: z.string(),
  model: z.string(),
  seed: z.number().int(),
  width: z.number().int(),
  height: z.number().int(),
});
export type ImageDone = z.infer<typeof ImageDone>;

/** The SSE events of generation and refinement: progress (0–1) after each step, then the image. */
export type ImageEvent = { progress: number } | ImageDone;
