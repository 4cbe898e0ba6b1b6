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
