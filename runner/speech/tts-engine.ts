import { AppError } from '../../shared/errors.ts';
import { primed } from '../../shared/primed.ts';
import type { SpeechEvent, SpeechRequest } from '../../shared/schemas/speech.ts';
import { EspeakWorker, type EspeakVoice } from './espeak-worker.ts';
import { voiceFile } from './voice-path.ts';
import { encodeWav } from './wav.ts';

/** espeak-ng's own pace, in words a minute (`speed` 1). */
const BASE_RATE = 175;

/**
 * Text-to-speech with espeak-ng: every language it has, offline, from the install. The text is spoken sentence by
 * sentence (`Intl.Segmenter` in the request's language), so progress is real and a cancelled request stops at the
 * next sentence; the answer is one WAV (16-bit PCM, mono, espeak-ng's 22,050 Hz). Nothing is written to disk.
 */
export class TtsEngine {
  #worker: EspeakWorker | undefined;
  #catalog: Promise<{ voices: EspeakVoice[]; sampleRate: number }> | undefined;

  constructor(private readonly options: { modelsDir: string }) {}

  #engine(): EspeakWorker {
    if (!this.#worker || this.#worker.failed) {
      this.#worker = new EspeakWorker();
      this.#catalog = undefined;
    }
    return this.#worker;
  }

  /** espeak-ng's voices and sample rate (asked once). */
  async catalog(): Promise<{ voices: EspeakVoice[]; sampleRate: number }> {
    const engine = this.#engine();
    this.#catalog ??= engine.voices().catch((err: unknown) => {
      this.#catalog = undefined;
      throw err;
    });
    return this.#catalog;
  }

  /** Milliseconds spent inside espeak-ng's synthesis by this engine's current worker (for the benchmark). */
  get engineMs(): number {
    return this.#worker?.engineMs ?? 0;
  }

  /** Every language code espeak-ng speaks, sorted. */
  async languages(): Promise<string[]> {
    const { voices } = await this.catalog();
    return [...new Set(voices.flatMap((v) => v.languages))].sort();
  }

  /** The espeak-ng language to speak `code` with: itself, else its base language, else a regional variant of it. */
  async #voiceFor(code: string): Promise<string> {
    const languages = await this.languages();
    const base = code.split('-')[0]!;
    const found =
      languages.find((l) => l === code) ??
      languages.find((l) => l === base) ??
      languages.find((l) => l.startsWith(`${base}-`));
    if (!found)
      throw new AppError(400, `language: "${code}" is not spoken here; espeak-ng speaks ${languages.join(', ')}`, {
        param: 'language',
      });
    return found;
  }

  /**
   * Speaks the request: resolves once the voice is chosen (a bad language or voice path is a 400 before any event),
   * then `{progress}` (0–100) after each sentence and `{status: "completed", audio, sample_rate}`.
   */
  async speak(request: SpeechRequest, { signal }: { signal?: AbortSignal } = {}): Promise<AsyncIterable<SpeechEvent>> {
    if (request.voice_path !== undefined) {
      await voiceFile(request.voice_path, this.options.modelsDir);
      throw new AppError(
        400,
        'voice_path: neural voices (Piper) are not supported on this runner yet; leave voice_path out to use espeak-ng',
        { param: 'voice_path' },
      );
    }
    const voice = await this.#voiceFor(request.language);
    const { sampleRate } = await this.catalog();
    const rate = Math.round(Math.min(450, Math.max(80, BASE_RATE * (request.speed ?? 1))));
    const sentences = splitSentences(request.text, request.language);
    if (!sentences.length) throw new AppError(400, 'text: nothing to speak (no letters or digits)', { param: 'text' });
    const total = sentences.reduce((sum, s) => sum + s.length, 0);
    const engine = this.#engine();
    async function* events(): AsyncGenerator<SpeechEvent> {
      yield { progress: 0 };
      const parts: Int16Array[] = [];
      let spoken = 0;
      for (const sentence of sentences) {
        signal?.throwIfAborted();
        parts.push(await engine.synthesize(sentence, voice, rate));
        spoken += sentence.length;
        yield { progress: Math.round((1000 * spoken) / total) / 10 };
      }
      const samples = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
      let offset = 0;
      for (const part of parts) {
        samples.set(part, offset);
        offset += part.length;
      }
      yield { status: 'completed', audio: encodeWav(samples, sampleRate).toString('base64'), sample_rate: sampleRate };
    }
    return primed(events());
  }

  /** `list_speech_models`' text-to-speech part: espeak-ng and the languages it speaks. */
  async models(): Promise<Record<string, { name: string; languages: string[] }>> {
    return { 'espeak-ng': { name: 'eSpeak NG', languages: await this.languages() } };
  }

  async dispose(): Promise<void> {
    await this.#worker?.terminate();
    this.#worker = undefined;
  }
}

/** The text's sentences in its language (line breaks end a sentence too), without empty ones. */
export function splitSentences(text: string, language: string): string[] {
  let segmenter: Intl.Segmenter;
  try {
    segmenter = new Intl.Segmenter(language, { granularity: 'sentence' });
  } catch {
    segmenter = new Intl.Segmenter('en', { granularity: 'sentence' });
  }
  return text
    .split(/\n+/)
    .flatMap((line) => [...segmenter.segment(line)].map((s) => s.segment.trim()))
    .filter((s) => /[\p{L}\p{N}]/u.test(s));
}
