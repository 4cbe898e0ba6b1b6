import { z } from 'zod';
import { ModelKind } from './models.ts';

/** A file of a several-file model, relative to its source: plain path segments, no `..`. */
const RelativeFile = z
  .string()
  .min(1)
  .max(512)
  .refine(
    (path) =>
      !path.startsWith('/') &&
      path.split('/').every((part) => part && part !== '.' && part !== '..' && !part.includes('\\')),
    'a path inside the source, without "..", "." or empty segments',
  );

/** One entry of `models.json`. */
export const CatalogEntry = z
  .object({
    kind: ModelKind,
    /**
     * `hf:owner/repo/file.gguf`, an http(s) URL, `npm:package/path` (shipped in an installed npm package), or a
     * local path (relative to MODELS_DIR). With `files`, the folder or repository (`hf:owner/repo`) they are in.
     */
    source: z.string().min(1),
    /** A model of several files (ONNX pipelines): role → path inside `source`, each fetched like a one-file source. */
    files: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/), RelativeFile).optional(),
    size: z.number().int().positive().optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
    contextSize: z.number().int().positive().optional(),
    /**
     * Image generation models (`kind: "image"`): the size drawn when a request names none (default 1024, the
     * document's), the largest side allowed (default 2048), default steps (20) and guidance scale (7.5; turbo
     * models: 0, they are distilled to run without it).
     */
    image: z
      .object({
        size: z.number().int().min(64).max(2048).multipleOf(8).optional(),
        maxSide: z.number().int().min(64).max(2048).multipleOf(8).optional(),
        steps: z.number().int().min(1).max(150).optional(),
        guidance: z.number().min(0).max(30).optional(),
      })
      .strict()
      .optional(),
    description: z.string().optional(),
  })
  .refine((entry) => !entry.files || (entry.size === undefined && entry.sha256 === undefined), {
    // One size or checksum cannot describe several files: refused rather than silently left unchecked.
    message: 'a model with files takes no size or sha256 (each file is checked against the hub’s own headers)',
    path: ['files'],
  });
export type CatalogEntry = z.infer<typeof CatalogEntry>;

/** `models.json`: `{ "models": { name: entry } }`. */
export const Catalog = z.object({
  models: z.record(z.string().regex(/^[\w.:-]{1,128}$/, 'model names use letters, digits, . _ : -'), CatalogEntry),
});
export type Catalog = z.infer<typeof Catalog>;
