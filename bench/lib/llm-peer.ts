import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { llamaRuntime } from '../../runner/llm/llama-runtime.ts';
import type { ChatMessage } from '../../shared/schemas/chat.ts';
import { buildTinyLlama } from '../../test/fixtures/tiny-llama.ts';
import { freePort, start, stop, untilOk, type Child } from '../../test/helpers/child-processes.ts';
import { startEmbeddedServer } from './embedded-server.ts';
import { longHistory, timedChatStream, type StreamTiming } from './chat-stream.ts';
import { llamaServer } from './llama-server.ts';

export interface PeerOptions {
  /** Thread counts, each measured with both servers given that many; default [1, 2]. */
  threads?: number[];
  /** Tokens each stream generates; default 128. */
  tokens?: number;
  /** Concurrent streams of the aggregate measure; default 4. */
  streams?: number;
  /** Alternating rounds per thread count; medians count; default 3. */
  rounds?: number;
  log?: (line: string) => void;
}

export interface PeerReport {
  /** The llama.cpp commit both servers ran. */
  commit: string;
  /** How edgerunner's node-llama-cpp loaded llama.cpp here (`localBuild`: built on this machine, or `prebuilt`). */
  binding: string;
  rows: [string, string, string][];
}

const MODEL = 'bench-peer';
// ~414 MB of F32 weights: every decode step streams them all from memory, as with a real model.
const SHAPE = { embeddingLength: 1024, blockCount: 8, feedForwardLength: 2816, contextLength: 4096 };
const CONTEXT = 4096;
const PROMPT: ChatMessage[] = [{ role: 'user', content: 'Count.' }];

interface Server {
  name: string;
  url: string;
  child: Child;
  /** Whether a conversation keeps its cache through X-Session-ID (edgerunner) or by prompt prefix (llama-server). */
  sessions: boolean;
}

interface Samples {
  singleRate: number[];
  singleTtft: number[];
  aggregate: number[];
  secondTurnTtft: number[];
  /** Prompt tokens the server says it took from its cache on the second turn. */
  secondTurnCached: number[];
}

/**
 * Edgerunner (the embedded server, `npm start`) against llama.cpp's own llama-server built from the same llama.cpp
 * (the one node-llama-cpp bundles), on one generated model whose script never ends a generation, both streaming
 * /v1/chat/completions over HTTP at the same thread count and 4 slots: single-stream tokens/s and TTFT, the
 * aggregate tokens/s of concurrent streams and its scaling over one stream, and the TTFT of a second turn after a
 * ~1.5k-token history (each server's own cache reuse: X-Session-ID for edgerunner, slot prompt cache for
 * llama-server). Rounds alternate the servers, so a noisy neighbour slows both alike.
 */
export async function measureAgainstLlamaServer({
  threads = [1, 2],
  tokens = 128,
  streams = 4,
  rounds = 3,
  log = console.log,
}: PeerOptions = {}): Promise<PeerReport> {
  const { binary, commit } = await llamaServer({ log });
  const binding = (await llamaRuntime()).buildType;
  const dir = await mkdtemp(join(tmpdir(), 'edgerunner-bench-peer-'));
  const rows: [string, string, string][] = [];
  try {
    const modelPath = join(dir, 'model.gguf');
    await writeFile(modelPath, buildTinyLlama({ ...SHAPE, weights: 'scripted', loop: true }));
    const catalog = join(dir, 'models.json');
    await writeFile(
      catalog,
      JSON.stringify({ models: { [MODEL]: { kind: 'llm', source: modelPath, contextSize: CONTEXT } } }),
    );
    for (const t of threads) {
      const servers = [
        {
          name: 'edgerunner',
          sessions: true,
          ...(await startEmbeddedServer({ dir, catalog, threads: t, parallel: streams })),
        },
        await startLlamaServer({ binary, modelPath, threads: t, parallel: streams }),
      ];
      try {
        const samples = servers.map((): Samples => ({
          singleRate: [],
          singleTtft: [],
          aggregate: [],
          secondTurnTtft: [],
          secondTurnCached: [],
        }));
        for (const s of servers) await timedChatStream({ url: s.url, model: MODEL, messages: PROMPT, maxTokens: 16 });
        for (let round = 0; round < rounds; round++) {
          for (const [i, s] of servers.entries()) {
            const single = await stream(s, PROMPT, tokens);
            samples[i]!.singleRate.push(rate([single], tokens));
            samples[i]!.singleTtft.push(single.ttftMs);
          }
          for (const [i, s] of servers.entries()) {
            const all = await Promise.all(Array.from({ length: streams }, (_, k) => stream(s, countPrompt(k), tokens)));
            samples[i]!.aggregate.push(rate(all, tokens));
          }
          for (const [i, s] of servers.entries()) {
            const turn = await secondTurn(s, round);
            samples[i]!.secondTurnTtft.push(turn.ttftMs);
            samples[i]!.secondTurnCached.push(turn.cachedTokens ?? NaN);
          }
        }
        rows.push(...compare(t, streams, samples[0]!, samples[1]!));
      } finally {
        for (const s of servers) await stop(s.child);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const width = Math.max(...rows.map((r) => r[0].length));
  log(
    `\nedgerunner vs llama-server (llama.cpp ${commit.slice(0, 7)} both; edgerunner's binding: ${binding}; ` +
      `${tokens} tokens per stream, median of ${rounds})`,
  );
  for (const [label, value, note] of rows) log(`${label.padEnd(width)}  ${value.padStart(14)}  ${note}`);
  return { commit, binding, rows };
}

async function startLlamaServer(o: {
  binary: string;
  modelPath: string;
  threads: number;
  parallel: number;
}): Promise<Server> {
  const port = await freePort();
  const child = start({
    name: 'llama-server',
    command: o.binary,
    // -c is the total over the slots: each slot gets CONTEXT, as each edgerunner sequence does.
    args: ['-m', o.modelPath, '-t', String(o.threads), '-tb', String(o.threads), '-np', String(o.parallel)].concat([
      '-c',
      String(CONTEXT * o.parallel),
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
    ]),
  });
  const url = `http://127.0.0.1:${port}`;
  await untilOk(`${url}/health`, child, { timeoutMs: 120_000 });
  return { name: 'llama-server', url, child, sessions: false };
}

async function stream(s: Server, messages: ChatMessage[], tokens: number, session?: string): Promise<StreamTiming> {
  const t = await timedChatStream({ url: s.url, model: MODEL, messages, maxTokens: tokens, session });
  // Every stream must generate its full count, or the rates compare different amounts of work.
  if (t.finishReason !== 'length')
    throw new Error(`${s.name} stopped early (${t.finishReason}) after ${t.deltas} deltas`);
  return t;
}

// Concurrent prompts differ, as different users' do.
const countPrompt = (k: number): ChatMessage[] => [{ role: 'user', content: `Count, ${k}.` }];

/** Aggregate decode tokens/s: the tokens after each stream's first, over the time from the first first token to the last token. */
function rate(timings: StreamTiming[], tokens: number): number {
  const from = Math.min(...timings.map((t) => t.first));
  const to = Math.max(...timings.map((t) => t.last));
  return ((tokens - 1) * timings.length) / ((to - from) / 1000);
}

/** A second turn after a long first one, the first turn's answer and a new question appended. */
async function secondTurn(s: Server, round: number): Promise<StreamTiming> {
  const session = s.sessions ? await newSession(s.url) : undefined;
  const first = longHistory();
  // Each round's history differs at its start, so no round reuses another's cache.
  first[0] = { role: 'system', content: `${round}: ${first[0]!.content}` };
  const answer = await timedChatStream({ url: s.url, model: MODEL, messages: first, maxTokens: 8, session });
  const next: ChatMessage[] = [
    ...first,
    { role: 'assistant', content: answer.text },
    { role: 'user', content: 'And then?' },
  ];
  return timedChatStream({ url: s.url, model: MODEL, messages: next, maxTokens: 2, session });
}

async function newSession(url: string): Promise<string> {
  const res = await fetch(`${url}/v1/session`);
  await res.body?.cancel();
  return res.headers.get('x-session-id')!;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function compare(threads: number, streams: number, ours: Samples, peer: Samples): [string, string, string][] {
  const t = `${threads} thread${threads === 1 ? '' : 's'}`;
  const pair = (a: number[], b: number[], digits: number) =>
    `${median(a).toFixed(digits)} / ${median(b).toFixed(digits)}`;
  // Per round (the two servers measured seconds apart), then the median: steadier than a ratio of medians here.
  const x = (a: number[], b: number[], goal?: string) =>
    `${median(a.map((v, r) => v / b[r]!)).toFixed(2)}×${goal ? ` (goal ${goal})` : ''}`;
  const scaling = (s: Samples) => s.aggregate.map((v, r) => v / s.singleRate[r]!);
  return [
    [
      `${t}: single stream tok/s (edgerunner / llama-server)`,
      pair(ours.singleRate, peer.singleRate, 1),
      x(ours.singleRate, peer.singleRate, '≥ 1.0'),
    ],
    [`${t}: single stream TTFT ms`, pair(ours.singleTtft, peer.singleTtft, 1), x(ours.singleTtft, peer.singleTtft)],
    [
      `${t}: ${streams} streams aggregate tok/s`,
      pair(ours.aggregate, peer.aggregate, 1),
      x(ours.aggregate, peer.aggregate, '≥ 1.0'),
    ],
    [`${t}: ${streams}÷1 scaling`, pair(scaling(ours), scaling(peer), 2), x(scaling(ours), scaling(peer), '≥ 1.0')],
    [
      `${t}: 2nd-turn TTFT ms, ~1.5k-token history`,
      pair(ours.secondTurnTtft, peer.secondTurnTtft, 1),
      x(ours.secondTurnTtft, peer.secondTurnTtft, '≤ 1.1'),
    ],
    // Both must reuse the same share of the history, or the TTFT above compares different work.
    [`${t}: 2nd-turn prompt tokens from cache`, pair(ours.secondTurnCached, peer.secondTurnCached, 0), ''],
  ];
}
