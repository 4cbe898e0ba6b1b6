import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Espeak from '@echogarden/espeak-ng-emscripten';
import { SpeechRequest } from '../shared/schemas/speech.ts';
import { TtsEngine } from '../runner/speech/tts-engine.ts';
import { median, table } from './lib/exec-report.ts';

/** A paragraph of ~8 sentences per language. */
const TEXTS: Record<string, string> = {
  fr:
    'Le soleil se levait sur la ville encore endormie. Les premiers passants traversaient la place en silence. ' +
    'Un café ouvrait ses volets, et l’odeur du pain chaud se répandait dans la rue. Au loin, un train sifflait. ' +
    'Les pigeons s’envolaient au passage des cyclistes. Une cloche sonna sept coups. ' +
    'La journée commençait comme toutes les autres. Pourtant, quelque chose avait changé.',
  en:
    'The sun was rising over the sleeping city. The first passers-by crossed the square in silence. ' +
    'A café opened its shutters, and the smell of warm bread spread through the street. Far away, a train whistled. ' +
    'Pigeons took off as the cyclists went by. A bell rang seven times. ' +
    'The day began like every other. And yet, something had changed.',
};

/**
 * `npm run bench -- speech`: text-to-speech of the same paragraphs by our pipeline (`TtsEngine`: worker thread,
 * sentence by sentence, WAV, base64 — what `/v1/ai/process` runs) and by the raw engine (espeak-ng's own
 * `synthesize` on the whole paragraph in this thread). Reports each one's real-time factor (seconds of work per
 * second of audio) and the pipeline's overhead over the engine; medians of BENCH_ROUNDS (default 5) after a warm-up.
 */
export async function run({ rounds = Number(process.env.BENCH_ROUNDS ?? 5) }: { rounds?: number } = {}) {
  const load = loadavg()[0]!;
  const engine = new TtsEngine({ modelsDir: mkdtempSync(join(tmpdir(), 'edgerunner-bench-tts-')) });
  const raw = new (await Espeak()).eSpeakNGWorker();
  const rows: string[][] = [];
  const report: Record<string, unknown> = {};
  for (const [language, text] of Object.entries(TEXTS)) {
    const ours: number[] = [];
    const inEngine: number[] = [];
    const bare: number[] = [];
    let seconds = 0;
    for (let round = 0; round <= rounds; round++) {
      let started = performance.now();
      const engineBefore = engine.engineMs;
      let audio = '';
      for await (const event of await engine.speak(SpeechRequest.parse({ text, language })))
        if ('audio' in event) audio = event.audio;
      const oursMs = performance.now() - started;
      const engineMs = engine.engineMs - engineBefore;
      started = performance.now();
      raw.set_voice(language);
      let samples = 0;
      raw.synthesize(text, (chunk) => {
        samples += chunk.length;
        return 0;
      });
      const bareMs = performance.now() - started;
      if (round === 0) continue;
      seconds = (Buffer.from(audio, 'base64').length - 44) / 2 / 22050;
      ours.push(oursMs);
      inEngine.push(engineMs);
      bare.push(bareMs);
      report[`${language}_engine_audio_s`] = samples / raw.samplerate;
    }
    const [o, e, b] = [median(ours), median(inEngine), median(bare)];
    report[language] = { audioSeconds: seconds, oursMs: o, inEngineMs: e, wholeParagraphMs: b };
    rows.push([
      language,
      seconds.toFixed(1),
      (o / 1000 / seconds).toFixed(4),
      `${(o / e).toFixed(2)}×`,
      (b / 1000 / seconds).toFixed(4),
    ]);
  }
  await engine.dispose();
  console.log(
    `\nspeech: text-to-speech (espeak-ng), one paragraph of 8 sentences per language, median of ${rounds} rounds` +
      ` (load average ${load.toFixed(2)})\n`,
  );
  console.log(
    table(['language', 'audio s', 'RTF edgerunner', 'edgerunner / its engine calls', 'RTF one raw call'], rows),
  );
  console.log(
    '\n  edgerunner: worker thread, sentence by sentence, WAV + base64 (what /v1/ai/process runs), against the time' +
      ' inside its espeak-ng calls (goal ≤ 1.15×); one raw call: synthesize() on the whole paragraph in this thread.',
  );
  return report;
}
