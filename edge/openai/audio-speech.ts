import { Hono } from 'hono';
import { z } from 'zod';
import { AppError } from '../../shared/errors.ts';
import { LanguageCode, MAX_SPEECH_CHARS, type SpeechDone } from '../../shared/schemas/speech.ts';
import { requestCallOptions } from '../call-options.ts';
import type { AppDeps, AppEnv } from '../env.ts';
import { validate } from '../validate.ts';

/** OpenAI's voice names: they have no language, so they speak English with espeak-ng's voice. */
const OPENAI_VOICES = new Set([
  'alloy',
  'ash',
  'ballad',
  'coral',
  'echo',
  'fable',
  'nova',
  'onyx',
  'sage',
  'shimmer',
  'verse',
]);

/** `POST /v1/audio/speech`' body (OpenAI's fields; `instructions` is accepted and ignored). */
export const OpenAIAudioSpeech = z.object({
  model: z.string().max(128).optional(),
  input: z.string().trim().min(1, 'give the text to speak').max(MAX_SPEECH_CHARS),
  /** A language code (`fr`, `en-us`) or one of OpenAI's voice names (English). */
  voice: z.string().trim().min(1).max(64).default('alloy'),
  response_format: z
    .string()
    .default('wav')
    .refine((f) => f === 'wav', 'only wav here (no mp3, opus, aac, flac or pcm encoder is installed)'),
  speed: z.number().min(0.25).max(4).optional(),
  instructions: z.string().max(4096).optional(),
});

/**
 * OpenAI's `POST /v1/audio/speech` over the runners' text-to-speech: the WAV itself as the body (`audio/wav`), as
 * OpenAI answers. `voice` is a language code, or an OpenAI voice name (spoken in English); `response_format` wav.
 */
export function openAIAudioRoutes(deps: Pick<AppDeps, 'inference'>) {
  return new Hono<AppEnv>().post('/audio/speech', validate('json', OpenAIAudioSpeech), async (c) => {
    const { input, voice, speed } = c.req.valid('json');
    const language = OPENAI_VOICES.has(voice.toLowerCase()) ? 'en' : LanguageCode.safeParse(voice);
    if (typeof language !== 'string' && !language.success)
      throw new AppError(400, `voice: "${voice}" is neither a language code (fr, en-us…) nor an OpenAI voice name`, {
        param: 'voice',
      });
    const request = { text: input, language: typeof language === 'string' ? language : language.data, speed };
    let done: SpeechDone | undefined;
    try {
      for await (const event of await deps.inference.speak(request, requestCallOptions(c)))
        if ('status' in event) done = event;
    } catch (err) {
      // The speech request's own field names are OpenAI's here.
      if (err instanceof AppError && err.param === 'language')
        throw new AppError(400, err.message.replace(/^language:/, 'voice:'), { param: 'voice' });
      if (err instanceof AppError && err.param === 'text')
        throw new AppError(400, err.message.replace(/^text:/, 'input:'), { param: 'input' });
      throw err;
    }
    if (!done) throw new AppError(502, 'The speech stream ended without audio', { code: 'incomplete_stream' });
    const wav = Uint8Array.from(atob(done.audio), (ch) => ch.charCodeAt(0));
    return c.body(wav, 200, { 'content-type': 'audio/wav' });
  });
}
