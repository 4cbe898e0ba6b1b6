import { z } from 'zod';

export const ModelKind = z.enum(['llm', 'embedding', 'image', 'clip', 'ocr', 'translation', 'tts', 'stt']);
export type ModelKind = z.infer<typeof ModelKind>;

/** A model a runner can serve, as the edge sees it. */
export const ModelSummary = z.object({
  id: z.string(),
  kind: ModelKind,
  loaded: z.boolean(),
});
export type ModelSummary = z.infer<typeof ModelSummary>;

export const ModelList = z.object({ models: z.array(ModelSummary) });

/** One model as OpenAI's `model` object, plus our `kind` and whether it is loaded now. */
export function modelObject(m: ModelSummary, created: number) {
  return { id: m.id, object: 'model' as const, created, owned_by: 'edgerunner', kind: m.kind, loaded: m.loaded };
}

/** `GET /v1/models`: the document's `models` names plus OpenAI's list object. */
export function modelsResponse(models: ModelSummary[], created: number) {
  return {
    models: models.map((m) => m.id),
    object: 'list' as const,
    data: models.map((m) => modelObject(m, created)),
  };
}

/** Events of `POST /v1/models/{name}/load` (the document's SSE events). */
export type LoadEvent = { progress: number } | { status: 'exists' | 'completed' | 'loaded' } | { error: string };
