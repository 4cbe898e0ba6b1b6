import { z } from 'zod';
import { ModelKind } from './models.ts';

/** One entry of `models.json`. */
export const CatalogEntry = z.object({
  kind: ModelKind,
  /** `hf:owner/repo/file.gguf`, an http(s) URL, or a local path (relative to MODELS_DIR). */
  source: z.string().min(1),
  size: z.number().int().positive().optional(),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  contextSize: z.number().int().positive().optional(),
  description: z.string().optional(),
});
export type CatalogEntry = z.infer<typeof CatalogEntry>;

/** `models.json`: `{ "models": { name: entry } }`. */
export const Catalog = z.object({
  models: z.record(z.string().regex(/^[\w.:-]{1,128}$/, 'model names use letters, digits, . _ : -'), CatalogEntry),
});
export type Catalog = z.infer<typeof Catalog>;
