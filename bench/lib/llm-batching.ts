import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LlamaChat, type LlamaContext } from 'node-llama-cpp';
import { llamaRuntime } from '../../runner/llm/llama-runtime.ts';
import { LlmEngine } from '../../runner/llm/llm-engine.ts';
import { modelFiles } from '../../runner/models/model-files.ts';
import { buildTinyLlama } from '../../test/fixtures/tiny-llama.ts';

export interface MeasureBatchingOptions {
  /** A GGUF chat model; default a generated ~400 MB F32 model (memory-bound on CPU), written to os.tmpdir() and removed after. */
  modelPath?: string;
  /** Concurrent sessions to measure, each count in its own run; default [1, 4]. */
  sessions?: number[];
  /** Tokens each session generates; default 128. */
  tokens?: number;
  /** Inference threads; default 1 (faster than 2 on the 2-core machines here, see FACTS.md). */
  threads?: number;
  /** Also measure node-llama-cpp's own LlamaChat at the same concurrency, the baseline whose decodes alternate; default true. */
  baseline?: boolean;
  /** Runs of each configuration; the median counts; default 3. */
  rounds?: number;
  signal?: AbortSignal;
}

export interface BatchingRun {
  sessions: number;
  /** Aggregate decode tokens/s through LlmEngine (lock-step batched decoding), from the first token on; median of the rounds. */
  engine: number;
  /** Aggregate decode tokens/s through LlamaChat on one context's sequences, when measured. */
  llamaChat?: number;
  /** Every round's rates, in order. */
  samples: { engine: number[]; llamaChat: number[] };
}

export interface BatchingReport {
  runs: BatchingRun[];
  /** Engine tokens/s at the most sessions over engine tokens/s at the fewest: the median of the rounds' ratios. */
  ratio: number;
  /** The same, for LlamaChat (when measured). */
  llamaChatRatio?: number;
  /** [label, value, note] lines for a benchmark table. */
  rows: [string, string, string][];
}

const MODEL = 'bench-batching';
// ~400 MB of F32 weights: every decode step streams them all from memory, as with a real model.
const SHAPE = { embeddingLength: 1024, blockCount: 8, feedForwardLength: 2816, contextLength: 4096 };
const CONTEXT = 1024;

/**
 * Aggregate decode tokens/s (prompt evaluation left out) of 1 vs N
 * concurrent sessions on one model, through
 * LlmEngine (one context, one sequence per session, greedy, a fixed number
 * of tokens each) and, as the baseline, through node-llama-cpp's LlamaChat.
 * Prints a table and returns it.
 */
export async function measureBatching({
  modelPath,
  sessions = [1, 4],
  tokens = 128,
  threads = 1,
  baseline = true,
  rounds = 3,
  signal,
}: MeasureBatchingOptions = {}): Promise<BatchingReport> {
  const dir = modelPath ? undefined : await mkdtemp(join(tmpdir(), 'edgerunner-bench-batching-'));
  try {
    const path = modelPath ?? join(dir!, 'model.gguf');
    if (!modelPath) await writeFile(path, buildTinyLlama({ ...SHAPE, weights: 'scripted', loop: true }));
    const parallel = Math.max(...sessions);
    const engineRates = sessions.map((): number[] => []);
    const llamaChatRates = sessions.map((): number[] => []);
    const engine = new LlmEngine({
      models: { [MODEL]: { kind: 'llm', source: path, contextSize: CONTEXT } },
      files: modelFiles({ modelsDir: tmpdir() }),
      threads,
      parallel,
      keepAliveMs: -1,
    });
    const model = baseline ? await (await llamaRuntime()).loadModel({ modelPath: path }) : null;
    const context = await model?.createContext({ sequences: parallel, contextSize: CONTEXT, threads });
    try {
      await engineRound(engine, 1, 8, 'warm', signal);
      // Rounds alternate the configurations, so that a noisy neighbour slows all of them alike.
      for (let round = 0; round < rounds; round++) {
        for (const [i, n] of sessions.entries()) {
          engineRates[i]!.push(await engineRound(engine, n, tokens, `r${round}-s${n}`, signal));
          if (context) llamaChatRates[i]!.push(await llamaChatRound(context, n, tokens, signal));
        }
      }
    } finally {
      await engine.dispose();
      await context?.dispose();
      await model?.dispose();
    }
    const runs: BatchingRun[] = sessions.map((n, i) => ({
      sessions: n,
      engine: median(engineRates[i]!),
      llamaChat: baseline ? median(llamaChatRates[i]!) : undefined,
      samples: { engine: engineRates[i]!, llamaChat: llamaChatRates[i]! },
    }));

    const [fewest, most] = [runs[0]!, runs.at(-1)!];
    // Per round (the two measured minutes apart at most), then the median: steadier than a ratio of medians on a shared machine.
    const ratioOf = (a: number[], b: number[]) => median(b.map((x, r) => x / a[r]!));
    const ratio = ratioOf(fewest.samples.engine, most.samples.engine);
    const llamaChatRatio = baseline ? ratioOf(fewest.samples.llamaChat, most.samples.llamaChat) : undefined;
    const rows: [string, string, string][] = runs.flatMap((run): [string, string, string][] => {
      const label = `${run.sessions} concurrent session${run.sessions === 1 ? '' : 's'}, aggregate decode tok/s`;
      const lines: [string, string, string][] = [
        [
          `${label} (lock-step)`,
          run.engine.toFixed(1),
          run === most && runs.length > 1 ? `${ratio.toFixed(2)}× vs ${fewest.sessions} (goal ≥ 2.0)` : '',
        ],
      ];
      if (run.llamaChat !== undefined) {
        lines.push([
          `${label} (LlamaChat)`,
          run.llamaChat.toFixed(1),
          run === most && runs.length > 1 ? `${llamaChatRatio!.toFixed(2)}× vs ${fewest.sessions}` : '',
        ]);
      }
      return lines;
    });
    const width = Math.max(...rows.map((r) => r[0].length));
    console.log(
      `\nbatched decoding (${tokens} tokens per session, ${threads} thread${threads === 1 ? '' : 's'}, median of ${rounds})`,
    );
    for (const [label, value, note] of rows) console.log(`${label.padEnd(width)}  ${value.padStart(8)}  ${note}`);
    return { runs, ratio, llamaChatRatio, rows };
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// Aggregate decode rate of concurrent streams: the tokens after each stream's first, over the time from the last first token to the last token.
class Streams {
  readonly #first: number[] = [];
  readonly #last: number[] = [];
  #tokens = 0;

  tokens(i: number, count: number): void {
    const now = performance.now();
    if (this.#first[i] === undefined) {
      this.#first[i] = now;
      count--;
    }
    this.#tokens += count;
    this.#last[i] = now;
  }

  get rate(): number {
    return this.#tokens / ((Math.max(...this.#last) - Math.max(...this.#first)) / 1000);
  }
}

// `n` sessions at once through the engine: aggregate decode tokens/s.
async function engineRound(
  engine: LlmEngine,
  n: number,
  tokens: number,
  tag: string,
  signal?: AbortSignal,
): Promise<number> {
  const streams = new Streams();
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const events = await engine.chat(
        { model: MODEL, messages: [{ role: 'user', content: `Count, ${i}.` }], maxTokens: tokens, temperature: 0 },
        { sessionId: `${tag}-${i}`, signal },
      );
      // The scripted model writes one word per token, so each text event is one token.
      for await (const e of events) if (e.type === 'text') streams.tokens(i, 1);
    }),
  );
  return streams.rate;
}

// `n` LlamaChat generations at once on one context's sequences: aggregate decode tokens/s.
async function llamaChatRound(context: LlamaContext, n: number, tokens: number, signal?: AbortSignal): Promise<number> {
  const sequences = Array.from({ length: n }, () => context.getSequence());
  const streams = new Streams();
  try {
    await Promise.all(
      sequences.map(async (sequence, i) => {
        const chat = new LlamaChat({ contextSequence: sequence });
        try {
          await chat.generateResponse(
            [
              { type: 'system', text: 'You are a helpful assistant.' },
              { type: 'user', text: `Count, ${i}.` },
              { type: 'model', response: [] },
            ],
            { maxTokens: tokens, temperature: 0, signal, onToken: (t) => streams.tokens(i, t.length) },
          );
        } finally {
          chat.dispose();
        }
      }),
    );
    return streams.rate;
  } finally {
    await Promise.all(sequences.map((s) => s.dispose()));
  }
}
