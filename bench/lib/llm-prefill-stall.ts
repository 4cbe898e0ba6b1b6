import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LlamaContext, Token } from 'node-llama-cpp';
import { llamaRuntime } from '../../runner/llm/llama-runtime.ts';
import { LockstepBatcher } from '../../runner/llm/lockstep.ts';
import { buildTinyLlama } from '../../test/fixtures/tiny-llama.ts';

export interface MeasurePrefillStallOptions {
  /** A GGUF model; default a generated ~80 MB F32 model (one word per token), written to os.tmpdir() and removed after. */
  modelPath?: string;
  /** Length of the prompt that arrives while a stream runs; default 4096. */
  promptTokens?: number;
  /** Inference threads; default 1. */
  threads?: number;
  /** Runs of each configuration, alternating; the median counts; default 3. */
  rounds?: number;
}

export interface PrefillStall {
  /** p99 of the running stream's inter-token gaps while the prompt is read, whole prompt in one step (ms); median of the rounds. */
  wholeP99Ms: number;
  /** The same, prompt read in pieces of the batch size (ms). */
  chunkedP99Ms: number;
  /** The running stream's median inter-token gap before the prompt arrives (ms), for scale. */
  aloneMs: number;
  /** Time to the long prompt's first token (ms): whole, chunked. */
  wholeTtftMs: number;
  chunkedTtftMs: number;
  /** Tokens per step of the context (the chunk size). */
  batchSize: number;
  /** [label, value, note] lines for a benchmark table. */
  rows: [string, string, string][];
}

// ~80 MB of F32 weights, as the llm benchmark's streaming model.
const SHAPE = { embeddingLength: 512, blockCount: 6, feedForwardLength: 1536, contextLength: 8192 };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Nearest-rank percentile. */
const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil((p / 100) * xs.length) - 1)]!;

/**
 * A stream runs on one sequence; after 16 of its tokens a `promptTokens`-long prompt arrives on another
 * sequence of the same context. Measures the running stream's inter-token gaps from the prompt's arrival to
 * its first answer token, with the lock-step batcher reading the prompt whole (one step) and in pieces.
 */
export async function measurePrefillStall({
  modelPath,
  promptTokens = 4096,
  threads = 1,
  rounds = 3,
}: MeasurePrefillStallOptions = {}): Promise<PrefillStall> {
  const dir = modelPath ? undefined : await mkdtemp(join(tmpdir(), 'edgerunner-bench-prefill-'));
  try {
    const path = modelPath ?? join(dir!, 'model.gguf');
    if (!modelPath) await writeFile(path, buildTinyLlama({ ...SHAPE, weights: 'scripted', loop: true }));
    const model = await (await llamaRuntime()).loadModel({ modelPath: path });
    const context = await model.createContext({ sequences: 2, contextSize: promptTokens + 512, threads });
    const samples = { whole: [] as Round[], chunked: [] as Round[] };
    try {
      const words = model.tokenize('the quick brown fox jumps over the lazy dog while the stream keeps running ');
      const long = (round: number): Token[] => {
        const tokens = [...model.tokenize(`round ${round}: `)];
        while (tokens.length < promptTokens) tokens.push(...words);
        return tokens.slice(0, promptTokens);
      };
      await oneRound(context, false, long(-1).slice(0, 256));
      for (let round = 0; round < rounds; round++) {
        // Alternate which goes first, so that a noisy neighbour slows both alike.
        const order = round % 2 ? (['chunked', 'whole'] as const) : (['whole', 'chunked'] as const);
        for (const mode of order)
          samples[mode].push(
            await oneRound(context, mode === 'chunked', long(round * 2 + (mode === 'chunked' ? 1 : 0))),
          );
      }
    } finally {
      await context.dispose();
      await model.dispose();
    }
    const result = {
      wholeP99Ms: median(samples.whole.map((r) => r.p99Ms)),
      chunkedP99Ms: median(samples.chunked.map((r) => r.p99Ms)),
      aloneMs: median([...samples.whole, ...samples.chunked].map((r) => r.aloneMs)),
      wholeTtftMs: median(samples.whole.map((r) => r.ttftMs)),
      chunkedTtftMs: median(samples.chunked.map((r) => r.ttftMs)),
      batchSize: context.batchSize,
    };
    const ratio = median(samples.chunked.map((r, i) => r.p99Ms / samples.whole[i]!.p99Ms));
    const label = `running stream's p99 inter-token gap while a ${promptTokens}-token prompt arrives (ms)`;
    const rows: [string, string, string][] = [
      [`${label}, whole prompt in one step`, result.wholeP99Ms.toFixed(0), `alone: ${result.aloneMs.toFixed(1)} ms`],
      [
        `${label}, prefill in chunks of ${result.batchSize}`,
        result.chunkedP99Ms.toFixed(0),
        `${ratio.toFixed(2)}× whole`,
      ],
      [
        `${promptTokens}-token prompt's time to first token, chunks vs whole (ms)`,
        result.chunkedTtftMs.toFixed(0),
        `${(result.chunkedTtftMs / result.wholeTtftMs).toFixed(2)}× (${result.wholeTtftMs.toFixed(0)} whole)`,
      ],
    ];
    return { ...result, rows };
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

interface Round {
  p99Ms: number;
  aloneMs: number;
  ttftMs: number;
}

async function oneRound(context: LlamaContext, chunked: boolean, long: Token[]): Promise<Round> {
  const batcher = new LockstepBatcher(context, chunked ? {} : { prefillChunk: false });
  const running = context.getSequence();
  const arriving = context.getSequence();
  const stop = new AbortController();
  const times: number[] = [];
  let arrivedAt = 0;
  let firstAt = 0;
  let arrival: Promise<unknown> | undefined;
  let after = 0;
  try {
    const model = context.model;
    await batcher.generate(running, model.tokenize('Count.'), {
      signal: stop.signal,
      // The scripted model writes one word per token, so each text chunk is one token.
      onTextChunk: () => {
        times.push(performance.now());
        if (times.length === 16) {
          arrivedAt = performance.now();
          arrival = batcher.generate(arriving, long, {
            maxTokens: 1,
            onTextChunk: () => void (firstAt ||= performance.now()),
          });
        }
        if (firstAt && ++after === 8) stop.abort();
      },
    });
    await arrival;
  } finally {
    stop.abort();
    batcher.dispose();
    await running.dispose();
    await arriving.dispose();
  }
  const gaps = times.slice(1).map((t, i) => ({ start: times[i]!, gap: t - times[i]! }));
  const during = gaps.filter((g) => g.start + g.gap > arrivedAt && g.start < firstAt).map((g) => g.gap);
  const alone = gaps.filter((g) => g.start + g.gap <= arrivedAt).map((g) => g.gap);
  return { p99Ms: percentile(during, 99), aloneMs: median(alone.slice(2)), ttftMs: firstAt - arrivedAt };
}
