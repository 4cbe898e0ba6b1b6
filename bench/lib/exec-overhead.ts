import { createGuardedFetch } from '../../edge/net/ssrf.ts';
import type { ExecDeps } from '../../edge/exec/round-services.ts';
import type { RoundResponse } from '../../edge/exec/round-events.ts';
import type { ChatRequest } from '../../shared/schemas/chat.ts';
import { testApp } from '../../test/helpers/test-app.ts';
import { InstantInference, type InstantReply } from './exec-instant-inference.ts';
import { median, percentile } from './exec-report.ts';

export interface LoopOverheadOptions {
  /** Model calls per round: `loops - 1` tool calls, then the final text; default 10 (the default `max_loops`). */
  loops?: number;
  /** Measured rounds per batch; default 200. */
  rounds?: number;
  /** Batches; the figures are the medians of the batches' percentiles; default 5. */
  batches?: number;
  /** Unmeasured rounds first; default 100. */
  warmupRounds?: number;
}

export interface LoopOverhead {
  loops: number;
  rounds: number;
  batches: number;
  /** Round time / loops through `POST /llm-exec/round` (app.request, in process), ms; median over the batches. */
  perLoopP50Ms: number;
  perLoopP99Ms: number;
  /** (Round time − time inside the model and the tool) / loops, ms; median over the batches. */
  overheadP50Ms: number;
  overheadP99Ms: number;
  /** One `inference.chat` of the instant model, drained (its tool-call answer), ms; median over the batches. */
  modelP50Ms: number;
  modelP99Ms: number;
  /** Time inside the model's chat() and its events plus the tool's runs, per loop (p50 over the rounds), ms. */
  insideP50Ms: number;
}

const QUERY_TOOL = {
  type: 'object',
  properties: { query: { type: 'string' } },
  required: ['query'],
  additionalProperties: false,
};

/** The instant model's script: a search per loop until `loops - 1` results are in, then the answer. */
function loopScript(loops: number) {
  return (request: ChatRequest): InstantReply => {
    let answered = 0;
    for (const m of request.messages) if (m.role === 'tool') answered++;
    if (answered < loops - 1) {
      return { calls: [{ id: `call_${answered}`, name: 'web_search', arguments: { query: `q${answered}` } }] };
    }
    return { text: ['Done ', 'after ', `${answered} `, 'searches.'] };
  };
}

/**
 * Orchestration overhead of the round loop, in process: the real app (auth, session, validation, the round,
 * the JSON answer) over an instant model and an instant `web_search` tool, rounds of `loops` model calls through
 * `app.request('/llm-exec/round')`. Nothing waits on a network or a timer, so a round's time is the loop's own
 * cost; the instant model alone, called directly, is the baseline.
 */
export async function measureLoopOverhead({
  loops = 10,
  rounds = 200,
  batches = 5,
  warmupRounds = 100,
}: LoopOverheadOptions = {}): Promise<LoopOverhead> {
  const inference = new InstantInference(loopScript(loops));
  // Time inside the model (InstantInference.busyMs) and the tool, per round.
  let toolMs = 0;
  const exec: ExecDeps = {
    fetch: createGuardedFetch({ allowlist: [] }),
    adapters: {
      websearch: () => [
        {
          name: 'web_search',
          description: 'Searches the web (instantly, from memory)',
          parameters: QUERY_TOOL,
          run: async (args) => {
            const t0 = performance.now();
            const output = { result: `found ${String(args.query)}` };
            toolMs += performance.now() - t0;
            return output;
          },
        },
      ],
    },
  };
  const { app, cleanup } = await testApp({ inference, extra: { exec } });
  const body = JSON.stringify({
    model: 'instant',
    messages: [{ role: 'user', content: `Search ${loops - 1} times, then answer.` }],
    tools: [{ type: 'websearch' }],
    config: { max_loops: loops },
  });
  const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body };

  /** One round: its time in ms and the time inside the model and the tool. */
  const round = async (): Promise<{ ms: number; insideMs: number }> => {
    inference.busyMs = 0;
    toolMs = 0;
    const t0 = performance.now();
    const res = await app.request('/llm-exec/round', init);
    const answer = (await res.json()) as RoundResponse;
    const elapsed = performance.now() - t0;
    const insideMs = inference.busyMs + toolMs;
    if (res.status !== 200) throw new Error(`POST /llm-exec/round answered ${res.status}: ${JSON.stringify(answer)}`);
    const expected = `Done after ${loops - 1} searches.`;
    if (answer.finish_reason !== 'stop' || answer.message.content !== expected || answer.errors) {
      throw new Error(`the instant round did not end as scripted: ${JSON.stringify(answer).slice(0, 500)}`);
    }
    return { ms: elapsed, insideMs };
  };

  const request: ChatRequest = { model: 'instant', messages: [{ role: 'user', content: 'Search.' }] };
  /** The baseline: one direct call of the instant model, drained. */
  const modelCall = async (): Promise<number> => {
    const t0 = performance.now();
    const events = await inference.chat(request, { sessionId: 'bench' });
    for await (const _ of events);
    return performance.now() - t0;
  };

  try {
    for (let i = 0; i < warmupRounds; i++) {
      await round();
      await modelCall();
    }
    const p50s: number[] = [];
    const p99s: number[] = [];
    const overheadP50s: number[] = [];
    const overheadP99s: number[] = [];
    const modelP50s: number[] = [];
    const modelP99s: number[] = [];
    const insideShares: number[] = [];
    for (let b = 0; b < batches; b++) {
      const perLoop: number[] = [];
      const overhead: number[] = [];
      const insidePerLoop: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const { ms, insideMs } = await round();
        perLoop.push(ms / loops);
        overhead.push((ms - insideMs) / loops);
        insidePerLoop.push(insideMs / loops);
      }
      const model: number[] = [];
      for (let i = 0; i < rounds * loops; i++) model.push(await modelCall());
      p50s.push(percentile(perLoop, 0.5));
      p99s.push(percentile(perLoop, 0.99));
      overheadP50s.push(percentile(overhead, 0.5));
      overheadP99s.push(percentile(overhead, 0.99));
      modelP50s.push(percentile(model, 0.5));
      modelP99s.push(percentile(model, 0.99));
      insideShares.push(percentile(insidePerLoop, 0.5));
    }
    return {
      loops,
      rounds,
      batches,
      perLoopP50Ms: median(p50s),
      perLoopP99Ms: median(p99s),
      overheadP50Ms: median(overheadP50s),
      overheadP99Ms: median(overheadP99s),
      modelP50Ms: median(modelP50s),
      modelP99Ms: median(modelP99s),
      insideP50Ms: median(insideShares),
    };
  } finally {
    cleanup();
  }
}
