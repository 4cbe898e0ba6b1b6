import { AnalyzeRequest, GenerateRequest, OcrRequest, RefineRequest } from '../../shared/schemas/images.ts';
import { requestCallOptions } from '../call-options.ts';
import type { AppDeps } from '../env.ts';
import { toAppError } from '../middleware/errors.ts';
import { sseResponse } from '../sse-response.ts';
import { aiTool, type AiTool } from './ai-tool.ts';

/**
 * The image tools of the unified endpoint, also served at `/v1/images/*` (same entry): `ocr` → `{model, text,
 * lines: [{text, confidence, box}], width, height}`; `image_analysis` → `{model, labels: [{label, probability}],
 * best_label}`; `image_generation` and `image_refinement` → SSE `{progress}` per step, then `{status: "completed",
 * image, model, seed, width, height}` (PNG base64), or `{error}`. Models download only for admin callers.
 */
export function visionTools(deps: Pick<AppDeps, 'inference' | 'logger'>): Record<string, AiTool> {
  const call = requestCallOptions;
  const drawing = { onError: (err: unknown) => ({ error: toAppError(err).message }), logger: deps.logger };
  return {
    ocr: aiTool(OcrRequest, async (c, request) => c.json(await deps.inference.ocr(request, call(c)))),
    image_analysis: aiTool(AnalyzeRequest, async (c, request) =>
      c.json(await deps.inference.analyzeImage(request, call(c))),
    ),
    image_generation: aiTool(GenerateRequest, async (c, request) =>
      sseResponse(c, await deps.inference.generateImage(request, call(c)), drawing),
    ),
    image_refinement: aiTool(RefineRequest, async (c, request) =>
      sseResponse(c, await deps.inference.refineImage(request, call(c)), drawing),
    ),
  };
}
