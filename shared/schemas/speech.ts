import { z } from 'zod';

/** Most characters one synthesis may speak (~20 minutes of speech; the WAV is built in memory). */
export const MAX_SPEECH_CHARS = 20_000;

/** An ISO 639 language code, optionally with a region or variant (`fr`, `en-us`, `pt-BR`). */
export const LanguageCode = z
  .string()
  .trim()
  .regex(/^[a-zA-Z]{2,3}([-_][a-zA-Z0-9]{1,8})*$/, 'an ISO 639 language code such as fr, en or en-us')
  .transform((code) => code.toLowerCase().replaceAll('_', '-'));

/**
 * The `text_to_speech` tool: the document's `{text, voice_path?, language? ("fr")}`, plus `speed` (1 = the
 * voice's own pace).
 */
export const SpeechRequest = z.object({
  text: z.string().trim().min(1, 'give the text to speak').max(MAX_SPEECH_CHARS),
  voice_path: z.string().min(1).max(1024).optional(),
  language: LanguageCode.default('fr'),
  speed: z.number().min(0.25).max(4).optional(),
});
export type SpeechRequest = z.infer<typeof SpeechRequest>;

/** The speech as the document sends it at the end: a WAV file (PCM, mono) in base64, and its sample rate. */
export const SpeechDone = z.object({
  status: z.literal('completed'),
  audio: z.string(),
  sample_rate: z.number().int(),
});
export type SpeechDone = z.infer<typeof SpeechDone>;

/** The SSE events of `text_to_speech`: progress 0–100 (the document's scale for this tool), then the audio. */
export type SpeechEvent = { progress: number } | SpeechDone;

/** `list_speech_models`: what this deployment can speak and transcribe, in the document's shape. */
export const SpeechModels = z.object({
  models: z.object({
    tts: z.record(z.string(), z.object({ name: z.string(), languages: z.array(z.string()) })),
    stt: z.record(z.string(), z.object({ name: z.string(), sizes: z.array(z.string()) })),
  }),
});
export type SpeechModels = z.infer<typeof SpeechModels>;
