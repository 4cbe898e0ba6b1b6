import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LlmEngine } from '../runner/llm/llm-engine.ts';
import { defaultThreads } from '../runner/llm/llama-runtime.ts';
import { modelFiles } from '../runner/models/model-files.ts';
import type { ChatMessage } from '../shared/schemas/chat.ts';
import { buildTinyLlama } from '../test/fixtures/tiny-llama.ts';
import { chatDeltas, longHistory } from './lib/chat-stream.ts';
import { measureBatching } from './lib/llm-batching.ts';
import { measureCompletions } from './lib/llm-completions.ts';
import { measureDownloadThroughput } from './lib/download-throughput.ts';
import { measureAgainstLlamaServer } from './lib/llm-peer.ts';
import { measurePrefillStall } from './lib/llm-prefill-stall.ts';
import { stopAll, stopChildrenOnExit } from '../test/helpers/child-processes.ts';
import { startEmbeddedServer } from './lib/embedded-server.ts';

const TOKENS = Number(process.env.BENCH_TOKENS ?? 300);
const ROUNDS = 3;
const MODEL = 'bench-llm';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ratio = (a: number, b: number) => (a / b).toFixed(2);

/** Tokens/s of one streamed answer, from its first token to its last. */
async function streamRate(chunks: AsyncIterable<string>): Promise<{ rate: number; tokens: number; ttftMs: number }> {
  const t0 = performance.now();
  let first = 0;
  let tokens = 0;
  for await (const _ of chunks) {
    if (tokens++ === 0) first = performance.now();
  }
  const seconds = (performance.now() - first) / 1000;
  return { rate: (tokens - 1) / seconds, tokens, ttftMs: first - t0 };
}

async function* engineChunks(engine: LlmEngine, session: string, messages: ChatMessage[], maxTokens: number) {
  const events = await engine.chat({ model: MODEL, messages, maxTokens, temperature: 0 }, { sessionId: session });
  for await (const e of events) if (e.type === 'text') yield e.text;
}

function httpChunks(url: string, session: string | undefined, messages: ChatMessage[], maxTokens: number) {
  return chatDeltas({ url, model: MODEL, session, messages, maxTokens });
}

/**
 * `npm run bench -- llm`: on generated models, in one run —
 * streaming tokens/s through HTTP (embedded server) vs node-llama-cpp in process;
 * aggregate tokens/s with 4 concurrent sessions vs 1;
 * second-turn time to first token with a long shared history vs the first turn;
 * /v1/completions tokens/s vs node-llama-cpp's LlamaCompletion, and a fill-in-the-middle's TTFT asked again;
 * a running stream's p99 inter-token gap while a 4k-token prompt arrives, prefill in chunks vs whole;
 * model download throughput vs a plain fetch from the same local server, unverified and sha256-verified;
 * and edgerunner vs llama.cpp's llama-server built from the same llama.cpp, at 1 and 2 threads
 * (BENCH_PEER=off skips it; the first run builds llama-server, minutes).
 */
export async function run(): Promise<void> {
  stopChildrenOnExit();
  const dir = await mkdtemp(join(tmpdir(), 'edgerunner-bench-llm-'));
  try {
    // ~80 MB F32: big enough that the HTTP hop is small next to a decode step, as with real models.
    const modelPath = join(dir, 'bench.gguf');
    const shape = { embeddingLength: 512, blockCount: 6, feedForwardLength: 1536, contextLength: 8192 };
    await writeFile(modelPath, buildTinyLlama({ ...shape, weights: 'scripted', loop: true, fim: true }));
    const catalogPath = join(dir, 'models.json');
    await writeFile(
      catalogPath,
      JSON.stringify({ models: { [MODEL]: { kind: 'llm', source: modelPath, contextSize: 8192 } } }),
    );

    const engine = new LlmEngine({
      models: { [MODEL]: { kind: 'llm', source: modelPath, contextSize: 8192 } },
      files: modelFiles({ modelsDir: dir }),
      threads: 1,
      parallel: 1,
      keepAliveMs: -1,
    });
    const { url } = await startEmbeddedServer({ dir, catalog: catalogPath, threads: 1, parallel: 1 });
    const prompt: ChatMessage[] = [{ role: 'user', content: 'Count.' }];
    await streamRate(engineChunks(engine, 'warm', prompt, 20));
    await streamRate(httpChunks(url, undefined, prompt, 20));

    const inProcess: number[] = [];
    const overHttp: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      inProcess.push((await streamRate(engineChunks(engine, `p${i}`, prompt, TOKENS))).rate);
      overHttp.push((await streamRate(httpChunks(url, undefined, prompt, TOKENS))).rate);
    }

    // Second turn of one session: the history is already in its sequence's KV cache.
    const first = longHistory();
    const firstTurn: number[] = [];
    const secondTurn: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const res = await fetch(`${url}/v1/session`);
      const session = res.headers.get('x-session-id')!;
      await res.body?.cancel();
      let answer = '';
      const t1 = performance.now();
      let ttft1 = 0;
      for await (const c of httpChunks(url, session, first, 8)) {
        if (!answer) ttft1 = performance.now() - t1;
        answer += c;
      }
      firstTurn.push(ttft1);
      const next: ChatMessage[] = [
        ...first,
        { role: 'assistant', content: answer },
        { role: 'user', content: 'And then?' },
      ];
      const t2 = performance.now();
      for await (const _ of httpChunks(url, session, next, 1)) break;
      secondTurn.push(performance.now() - t2);
    }
    await engine.dispose();
    const completions = await measureCompletions({ url, model: MODEL, modelPath, tokens: TOKENS });

    const batching = await measureBatching({ sessions: [1, 4], threads: defaultThreads() });
    const stall = await measurePrefillStall({ promptTokens: 4096, threads: defaultThreads() });
    const download = await measureDownloadThroughput({ sizeBytes: 200 * 1024 * 1024 });
    const verified = await measureDownloadThroughput({ sizeBytes: 200 * 1024 * 1024, verify: true });
    const peer = process.env.BENCH_PEER === 'off' ? undefined : await measureAgainstLlamaServer({ threads: [1, 2] });

    const rows = [
      ['streaming tok/s, in process (node-llama-cpp)', median(inProcess).toFixed(0), ''],
      [
        'streaming tok/s, through HTTP (embedded)',
        median(overHttp).toFixed(0),
        `${ratio(median(overHttp), median(inProcess))}× (goal ≥ 0.95)`,
      ],
      ['TTFT first turn, ~1.5k-token history (ms)', median(firstTurn).toFixed(1), ''],
      [
        'TTFT second turn, same session (ms)',
        median(secondTurn).toFixed(1),
        `${ratio(median(secondTurn), median(firstTurn))}× (goal ≤ 0.3)`,
      ],
      ...completions.rows,
      ...batching.rows,
      ...stall.rows,
      ['download MB/s, plain fetch', download.fetchMBps.toFixed(0), ''],
      [
        'download MB/s, edgerunner downloader',
        download.downloaderMBps.toFixed(0),
        `${download.ratio.toFixed(2)}× (goal ≥ 0.9)`,
      ],
      [
        'download MB/s, edgerunner downloader, sha256 verified',
        verified.downloaderMBps.toFixed(0),
        `${verified.ratio.toFixed(2)}× plain fetch (hashed in a worker)`,
      ],
      ...(peer?.rows ?? []),
    ];
    const width = Math.max(...rows.map((r) => r[0]!.length));
    console.log(`\nllm benchmark (${TOKENS} tokens per stream, median of ${ROUNDS})`);
    for (const [label, value, note] of rows) console.log(`${label!.padEnd(width)}  ${value!.padStart(8)}  ${note}`);
  } finally {
    await stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}
