import { z } from 'zod';
import { SpeechRequest } from '../../shared/schemas/speech.ts';
import { requestCallOptions } from '../call-options.ts';
import type { AppDeps } from '../env.ts';
import { toAppError } from '../middleware/errors.ts';
import { sseResponse } from '../sse-response.ts';
import { aiTool, type AiTool } from './ai-tool.ts';

/**
 * The speech tools of the unified endpoint: `text_to_speech` → SSE `{progress}` (0–100) per sentence, then
 * `{status: "completed", audio, sample_rate}` (a WAV in base64), or `{error}`; `list_speech_models` → `{models:
 * {tts, stt}}`, what the runners really have.
 */
export function speechTools(deps: Pick<AppDeps, 'inference' | 'logger'>): Record<string, AiTool> {
  return {
    text_to_speech: aiTool(SpeechRequest, async (c, request) =>
      sseResponse(c, await deps.inference.speak(request, requestCallOptions(c)), {
        onError: (err) => ({ error: toAppError(err).message }),
        logger: deps.logger,
      }),
    ),
    list_speech_models: aiTool(z.object({}), async (c) =>
      c.json(await deps.inference.listSpeechModels({ signal: c.req.raw.signal })),
    ),
  };
}
