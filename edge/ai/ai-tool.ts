import type { Context } from 'hono';
import type { z, ZodType } from 'zod';
import type { AppEnv } from '../env.ts';

/** One tool of `POST /v1/ai/process`: its config's schema, and the handler its own endpoint runs too. */
export interface AiTool {
  config: ZodType;
  /** Answers exactly as the tool's specific endpoint does (same JSON, same SSE events, same statuses). */
  handle(c: Context<AppEnv>, config: unknown): Promise<Response>;
}

/** A tool whose handler takes its parsed config. */
export function aiTool<S extends ZodType>(
  config: S,
  handle: (c: Context<AppEnv>, config: z.infer<S>) => Promise<Response>,
): AiTool {
  return { config, handle: (c, parsed) => handle(c, parsed as z.infer<S>) };
}

/** The document's tools that other capabilities bring (images, OCR, speech…), and what each needs. */
export const PLANNED_AI_TOOLS: Record<string, string> = {
  translation: 'translation',
  speech_to_text: 'speech-to-text',
};
