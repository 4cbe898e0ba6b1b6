import { OcrRequest } from '../../shared/schemas/images.ts';
import type { AppDeps } from '../env.ts';
import { aiTool, type AiTool } from './ai-tool.ts';

/**
 * The image tools of the unified endpoint, also served at `/v1/images/*` (same entry): `ocr` → `{model, text,
 * lines: [{text, confidence, box}], width, height}`. Models download only for admin callers.
 */
export function visionTools(deps: Pick<AppDeps, 'inference'>): Record<string, AiTool> {
  return {
    ocr: aiTool(OcrRequest, async (c, request) => {
      const session = c.get('session');
      const result = await deps.inference.ocr(request, {
        signal: c.req.raw.signal,
        sessionId: session.id,
        runnerId: session.runnerId,
        download: c.get('principal').scope === 'admin',
      });
      return c.json(result);
    }),
  };
}
