import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SpeechRequest, type SpeechDone, type SpeechEvent } from '../../shared/schemas/speech.ts';
import { appErrorOf } from '../../test/helpers/rejection.ts';
import { splitSentences, TtsEngine } from './tts-engine.ts';

const modelsDir = mkdtempSync(join(tmpdir(), 'edgerunner-tts-'));
const engine = new TtsEngine({ modelsDir });
afterAll(() => engine.dispose());

async function speak(request: Record<string, unknown>) {
  const events: SpeechEvent[] = [];
  for await (const event of await engine.speak(SpeechRequest.parse(request))) events.push(event);
  const done = events.at(-1) as SpeechDone;
  const wav = Buffer.from(done.audio, 'base64');
  const samples = new Int16Array(wav.buffer.slice(wav.byteOffset + 44, wav.byteOffset + wav.length));
  const rms = Math.sqrt(samples.reduce((s, x) => s + x * x, 0) / samples.length);
  const progress = events.slice(0, -1).map((e) => (e as { progress: number }).progress);
  return { done, wav, samples, rms, progress, seconds: samples.length / done.sample_rate };
}

describe('TtsEngine (espeak-ng)', () => {
  it('speaks French by default: a real WAV of plausible length and energy, progress per sentence to 100', async () => {
    const { done, wav, seconds, rms, progress } = await speak({
      text: 'Bonjour tout le monde. Il fait beau aujourd’hui ! Comment allez-vous ?',
    });
    expect(done.sample_rate).toBe(22050);
    expect(wav.subarray(0, 4).toString()).toBe('RIFF');
    expect(wav.subarray(8, 12).toString()).toBe('WAVE');
    expect(wav.readUInt16LE(22)).toBe(1); // mono
    expect(wav.readUInt32LE(24)).toBe(22050);
    expect(wav.readUInt16LE(34)).toBe(16);
    expect(seconds).toBeGreaterThan(2);
    expect(seconds).toBeLessThan(12);
    expect(rms).toBeGreaterThan(500); // speech, not silence
    expect(progress[0]).toBe(0);
    expect(progress.at(-1)).toBe(100);
    expect(progress).toHaveLength(4); // 0, then one per sentence
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
  });

  it('speaks each language with its own voice, and faster when asked', async () => {
    const text = 'One two three four five six seven eight nine ten.';
    const [en, de, fast] = await Promise.all([
      speak({ text, language: 'en' }),
      speak({ text, language: 'de' }),
      speak({ text, language: 'en-us', speed: 2 }),
    ]);
    expect(Buffer.compare(en.wav, de.wav)).not.toBe(0);
    expect(fast.seconds).toBeLessThan(en.seconds * 0.75);
  });

  it('refuses an unknown language and voice paths outside MODELS_DIR, naming the field', async () => {
    const unknown = await appErrorOf(engine.speak(SpeechRequest.parse({ text: 'x', language: 'zz' })));
    expect(unknown).toMatchObject({ status: 400, param: 'language' });
    expect(unknown.message).toMatch(/espeak-ng speaks .*\bfr\b/);

    const outside = mkdtempSync(join(tmpdir(), 'edgerunner-outside-'));
    writeFileSync(join(outside, 'voice.onnx'), 'x');
    mkdirSync(join(modelsDir, 'voices'), { recursive: true });
    symlinkSync(join(outside, 'voice.onnx'), join(modelsDir, 'voices', 'escape.onnx'));
    writeFileSync(join(modelsDir, 'voices', 'fr.onnx'), 'x');
    for (const voice_path of ['../etc/passwd', join(outside, 'voice.onnx'), 'voices/escape.onnx', 'voices/none.onnx']) {
      const err = await appErrorOf(engine.speak(SpeechRequest.parse({ text: 'x', voice_path })));
      expect(err, voice_path).toMatchObject({ status: 400, param: 'voice_path' });
      expect(err.message).not.toMatch(/not supported/);
    }
    // Inside MODELS_DIR the path is accepted; neural voices themselves are not served yet.
    const inside = await appErrorOf(engine.speak(SpeechRequest.parse({ text: 'x', voice_path: 'voices/fr.onnx' })));
    expect(inside.message).toMatch(/not supported/);
  });

  it('stops at the next sentence when the caller aborts', async () => {
    const controller = new AbortController();
    const text = Array.from({ length: 40 }, (_, i) => `Phrase numéro ${i}.`).join(' ');
    const events = await engine.speak(SpeechRequest.parse({ text }), { signal: controller.signal });
    let seen = 0;
    await expect(
      (async () => {
        for await (const _ of events) if (++seen === 3) controller.abort();
      })(),
    ).rejects.toThrow();
    expect(seen).toBe(3);
  });

  it('splits sentences in the text’s language, line breaks included', () => {
    expect(splitSentences('Hello there. How are you?\nFine!', 'en')).toEqual(['Hello there.', 'How are you?', 'Fine!']);
    expect(splitSentences('  \n ... \n', 'fr')).toEqual([]);
  });
});
