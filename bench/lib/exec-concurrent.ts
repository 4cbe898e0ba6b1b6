import diagnostics from 'node:diagnostics_channel';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import type { RoundEvent } from '../../edge/exec/round-events.ts';
import type { ExecTool } from '../../edge/exec/tool.ts';
import { parseSSE } from '../../shared/sse.ts';
import { execTestApp } from '../../test/helpers/exec-app.ts';
import { scriptedUpstream, type ScriptedReply, type UpstreamRequest } from '../../test/helpers/scripted-upstream.ts';
import { chatDeltas } from './chat-stream.ts';
import { median, percentile } from './exec-report.ts';

export interface ConcurrentRoundsOptions {
  /** Rounds fired at once; default 200. */
  rounds?: number;
  /** Measured batches of each (gateway, upstream direct, alternating); medians count; default 5. */
  batches?: number;
  /** Text chunks of each round's answer; default 20. */
  chunks?: number;
}

/** One batch's figures, or the medians of the batches'. */
export interface BatchFigures {
  wallMs: number;
  roundsPerS: number;
  p50Ms: number;
  p99Ms: number;
  /** TCP connections fetch opened during the batch (all of this process's: client → gateway, gateway → upstream). */
  connections: number;
}

/** One request's latency, and the check of what it got (run after the batch, so checks do not slow it). */
interface Timed {
  ms: number;
  check: () => string[];
}

export interface ConcurrentRounds {
  rounds: number;
  batches: number;
  chunks: number;
  /** Through the gateway: `POST /llm-exec/round/stream`, each round 2 tool calls in parallel then the answer. */
  gateway: BatchFigures;
  /** Straight to the scripted upstream: a streamed chat completion of the same answer. */
  direct: BatchFigures;
  /** Every round checked (warm-up included). */
  checked: number;
  /** What went wrong, one line per violation (must be empty). */
  violations: string[];
}

const MODEL = 'gpt-4o-mini';

/** The answer of round `id`: `chunks` words, each one upstream chunk (the scripted upstream splits on words). */
export function answerPieces(id: number, chunks: number): string[] {
  return Array.from({ length: chunks }, (_, k) => `r${id}w${k}${k < chunks - 1 ? ' ' : ''}`);
}

/** The two calls round `id`'s model makes at once, with what each tool answers. */
export function roundCalls(id: number) {
  return [
    { id: `call_${id}_search`, name: 'web_search', arguments: { query: `q${id}` }, result: `found q${id}` },
    { id: `call_${id}_page`, name: 'read_page', arguments: { url: `http://pages/${id}` }, result: `page ${id}` },
  ];
}

/** Instant stand-ins for an outside search engine and page reader: each answers from its arguments. */
const TOOLS: ExecTool[] = [
  {
    name: 'web_search',
    parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
    run: async (args) => ({ result: `found ${String(args.query)}` }),
  },
  {
    name: 'read_page',
    parameters: { type: 'object', properties: { url: { type: 'string' } }, required: ['url'] },
    run: async (args) => ({ result: `page ${String(args.url).slice('http://pages/'.length)}` }),
  },
];

/**
 * The scripted model: `round N` asks for both tools at once, then (once both results are in) answers with
 * round N's text; `direct N` answers at once. A second request whose tool results are not round N's own is
 * a violation (a result crossed rounds), and gets a wrong answer so the round's check fails too.
 */
function script(chunks: number, violations: string[]) {
  return (body: UpstreamRequest): ScriptedReply => {
    const user = body.messages.find((m) => m.role === 'user')?.content;
    const match = typeof user === 'string' ? /^(round|direct) (\d+)$/.exec(user) : null;
    if (!match) {
      violations.push(`upstream: unexpected request ${JSON.stringify(body.messages).slice(0, 200)}`);
      return { status: 400, error: 'not a bench request' };
    }
    const id = Number(match[2]);
    const text = answerPieces(id, chunks).join('');
    if (match[1] === 'direct') return { text };
    const tools = body.messages.filter((m) => m.role === 'tool');
    if (tools.length === 0)
      return { calls: roundCalls(id).map(({ id, name, arguments: a }) => ({ id, name, arguments: a })) };
    const expected = roundCalls(id).map((c) => `${c.id}=${c.result}`);
    const seen = tools.map((m) => `${m.tool_call_id}=${String(m.content)}`);
    if (JSON.stringify(seen) !== JSON.stringify(expected)) {
      violations.push(
        `round ${id}: the model read tool results ${JSON.stringify(seen)}, not ${JSON.stringify(expected)}`,
      );
      return { text: `wrong results for round ${id}` };
    }
    return { text };
  };
}

/**
 * What is wrong with round `id`'s events (empty when nothing): start → tool_call ×2 (the model's calls, args
 * as sent) → tool_result ×2 (either order, ids matching, each its own call's result) → every chunk of the
 * answer in order, once → end (`stop`, the whole text); no error event, nothing after end.
 */
export function roundViolations(id: number, events: readonly RoundEvent[], chunks: number): string[] {
  const problems: string[] = [];
  const at = `round ${id}`;
  const calls = roundCalls(id);
  const pieces = answerPieces(id, chunks);
  const types = events.map((e) => e.type);
  const expectedTypes = [
    'start',
    'tool_call',
    'tool_call',
    'tool_result',
    'tool_result',
    ...pieces.map(() => 'chunk'),
    'end',
  ];
  if (types.join() !== expectedTypes.join()) {
    const differs = expectedTypes.findIndex((t, i) => types[i] !== t);
    const first = differs === -1 ? expectedTypes.length : differs;
    problems.push(
      `${at}: event ${first} is ${types[first] ?? 'missing'}, expected ${expectedTypes[first] ?? 'none'} ` +
        `(${types.length} events: ${summarize(types)})`,
    );
  }
  const errors = events.filter((e) => e.type === 'error');
  for (const e of errors) problems.push(`${at}: error event ${JSON.stringify(e.error)}`);

  const callEvents = events.filter((e) => e.type === 'tool_call');
  const resultEvents = events.filter((e) => e.type === 'tool_result');
  for (const [i, call] of calls.entries()) {
    const e = callEvents[i];
    if (
      !e ||
      e.id !== call.id ||
      e.tool_name !== call.name ||
      JSON.stringify(e.args) !== JSON.stringify(call.arguments)
    )
      problems.push(
        `${at}: tool_call ${i} is ${JSON.stringify(e)}, expected ${call.id} ${call.name}(${JSON.stringify(call.arguments)})`,
      );
    const results = resultEvents.filter((r) => r.id === call.id);
    if (results.length !== 1) problems.push(`${at}: ${results.length} tool_result events for ${call.id}`);
    else if (results[0]!.result !== call.result || results[0]!.tool_name !== call.name)
      problems.push(
        `${at}: tool_result of ${call.id} is ${JSON.stringify(results[0])}, expected ${JSON.stringify(call.result)}`,
      );
  }
  if (resultEvents.length !== calls.length) problems.push(`${at}: ${resultEvents.length} tool_result events`);

  const got = events.filter((e) => e.type === 'chunk').map((e) => e.content);
  if (got.join('\u0000') !== pieces.join('\u0000')) {
    const first = pieces.findIndex((p, i) => got[i] !== p);
    problems.push(
      `${at}: chunks differ from chunk ${first === -1 ? pieces.length : first} on (${got.length} of ${pieces.length}; ` +
        `text ${JSON.stringify(got.join('').slice(0, 80))})`,
    );
  }
  const end = events.at(-1);
  if (end?.type === 'end' && (end.finish_reason !== 'stop' || end.message.content !== pieces.join('')))
    problems.push(`${at}: end says ${end.finish_reason} ${JSON.stringify(end.message.content).slice(0, 80)}`);
  return problems;
}

/** `start chunk×20 end` for a list of types. */
function summarize(types: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < types.length;) {
    let n = 1;
    while (types[i + n] === types[i]) n++;
    out.push(n > 1 ? `${types[i]}×${n}` : types[i]!);
    i += n;
  }
  return out.join(' ');
}

/**
 * `rounds` streaming rounds at once through the real app on real HTTP (`@hono/node-server` on 127.0.0.1, the
 * hosted OpenAI provider pointed at a scripted upstream), each checked event by event; and the same number of
 * streamed chat completions of the same answers straight to the upstream, for the upstream's own cost.
 * Client, gateway and upstream share this process (and its event loop).
 */
export async function measureConcurrentRounds({
  rounds = 200,
  batches = 5,
  chunks = 20,
}: ConcurrentRoundsOptions = {}): Promise<ConcurrentRounds> {
  const violations: string[] = [];
  const upstream = await scriptedUpstream();
  upstream.script(script(chunks, violations));
  const { app, cleanup } = await execTestApp(upstream, { adapters: { websearch: () => TOOLS } });
  let server: Server | undefined;
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) =>
      resolve(info.port),
    ) as Server;
  });
  const gatewayUrl = `http://127.0.0.1:${port}`;
  const upstreamOrigin = upstream.url.replace(/\/v1$/, '');
  let nextId = 0;
  let checked = 0;
  let connects = 0;
  const onConnect = () => void connects++;
  diagnostics.subscribe('undici:client:connected', onConnect);

  /** One streamed round through the gateway: its latency (request sent → stream ended) and what to check. */
  const gatewayRound = async (id: number): Promise<Timed> => {
    const t0 = performance.now();
    const res = await fetch(`${gatewayUrl}/llm-exec/round/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: MODEL,
        messages: [{ role: 'user', content: `round ${id}` }],
        tools: [{ type: 'websearch' }],
      }),
    });
    if (!res.ok) {
      const text = await res.text();
      return { ms: performance.now() - t0, check: () => [`round ${id}: HTTP ${res.status} ${text.slice(0, 200)}`] };
    }
    const events: RoundEvent[] = [];
    for await (const data of parseSSE(res.body!)) events.push(JSON.parse(data) as RoundEvent);
    return {
      ms: performance.now() - t0,
      check: () => {
        checked++;
        return roundViolations(id, events, chunks);
      },
    };
  };

  /** The same answer streamed straight from the upstream. */
  const directRound = async (id: number): Promise<Timed> => {
    const t0 = performance.now();
    const pieces: string[] = [];
    const messages = [{ role: 'user' as const, content: `direct ${id}` }];
    for await (const piece of chatDeltas({ url: upstreamOrigin, model: MODEL, messages, maxTokens: 64 }))
      pieces.push(piece);
    return {
      ms: performance.now() - t0,
      check: () => {
        const expected = answerPieces(id, chunks);
        if (pieces.join('\u0000') === expected.join('\u0000')) return [];
        const text = JSON.stringify(pieces.join('').slice(0, 80));
        return [`direct ${id}: ${pieces.length} of ${expected.length} chunks, text ${text}`];
      },
    };
  };

  /** `rounds` at once: wall time and the latency percentiles; each is checked once all have ended. */
  const batch = async (one: (id: number) => Promise<Timed>, name: string): Promise<BatchFigures> => {
    const ids = Array.from({ length: rounds }, () => nextId++);
    const connectsBefore = connects;
    const t0 = performance.now();
    const settled = await Promise.allSettled(ids.map(one));
    const wallMs = performance.now() - t0;
    const latencies: number[] = [];
    for (const [i, s] of settled.entries()) {
      if (s.status === 'rejected') violations.push(`${name} ${ids[i]}: ${String(s.reason)}`);
      else {
        latencies.push(s.value.ms);
        violations.push(...s.value.check());
      }
    }
    return {
      wallMs,
      roundsPerS: rounds / (wallMs / 1000),
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      connections: connects - connectsBefore,
    };
  };

  try {
    await batch(gatewayRound, 'round');
    await batch(directRound, 'direct');
    const gateway: BatchFigures[] = [];
    const direct: BatchFigures[] = [];
    for (let b = 0; b < batches; b++) {
      // Alternating which goes first, so neither always runs on a freshly collected heap.
      if (b % 2) direct.push(await batch(directRound, 'direct'));
      gateway.push(await batch(gatewayRound, 'round'));
      if (!(b % 2)) direct.push(await batch(directRound, 'direct'));
    }
    const medians = (xs: BatchFigures[]): BatchFigures => ({
      wallMs: median(xs.map((x) => x.wallMs)),
      roundsPerS: median(xs.map((x) => x.roundsPerS)),
      p50Ms: median(xs.map((x) => x.p50Ms)),
      p99Ms: median(xs.map((x) => x.p99Ms)),
      connections: median(xs.map((x) => x.connections)),
    });
    return { rounds, batches, chunks, gateway: medians(gateway), direct: medians(direct), checked, violations };
  } finally {
    diagnostics.unsubscribe('undici:client:connected', onConnect);
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await upstream.close();
    cleanup();
  }
}
