import { loadavg } from 'node:os';
import { measureConcurrentRounds } from './lib/exec-concurrent.ts';
import { measureLoopOverhead } from './lib/exec-overhead.ts';
import { ms, table, verdict } from './lib/exec-report.ts';

/** The goal: the round loop's own cost, p50 per loop (model call → tool → back), in ms. */
const GOAL_P50_PER_LOOP_MS = 1;
/** Violations printed in full; the rest are counted. */
const SHOWN_VIOLATIONS = 20;

/**
 * `npm run bench -- exec`: the agent-execution API (`/llm-exec/round`).
 * 1. Orchestration overhead per loop, in process: rounds of 10 model calls (9 instant `web_search` calls, then
 *    the answer) over an instant in-memory model, via `app.request`; next to the instant model called alone.
 * 2. 200 streaming rounds at once over real HTTP, each: the model calls 2 tools in parallel, then streams a
 *    20-chunk answer unique to the round; every round's events are checked (order, ids, results, chunks);
 *    next to 200 streamed chat completions of the same answers straight to the scripted upstream.
 * Prints a table; throws when any event is out of place (or the goal's check could not run).
 */
export async function run(): Promise<void> {
  const loadBefore = loadavg()[0]!;
  if (loadBefore > 0.5)
    console.error(`note: load average is ${loadBefore.toFixed(2)}; other work will skew the numbers`);

  console.error('exec: orchestration overhead, in process');
  const loop = await measureLoopOverhead();
  console.error('exec: 200 concurrent streaming rounds over HTTP');
  const many = await measureConcurrentRounds();

  const met = loop.overheadP50Ms <= GOAL_P50_PER_LOOP_MS;
  console.log(
    `\nexec: orchestration overhead per loop, in process (app.request, instant model and tool; ${loop.loops} model` +
      ` calls per round; p50/p99 over ${loop.rounds} rounds, median of ${loop.batches} batches)\n`,
  );
  console.log(
    table(
      ['', 'p50 ms', 'p99 ms', ''],
      [
        ['round time / loops', ms(loop.perLoopP50Ms), ms(loop.perLoopP99Ms), ''],
        [
          '  minus time inside model and tool',
          ms(loop.overheadP50Ms),
          ms(loop.overheadP99Ms),
          `goal p50 ≤ ${GOAL_P50_PER_LOOP_MS} ms: ${verdict(met)}`,
        ],
        ['  (inside model and tool, per loop)', ms(loop.insideP50Ms), '', ''],
        [
          'instant model alone, per call (baseline)',
          ms(loop.modelP50Ms),
          ms(loop.modelP99Ms),
          `${loop.rounds * loop.loops} calls per batch`,
        ],
      ],
    ),
  );

  console.log(
    `\nexec: ${many.rounds} streaming rounds at once over HTTP (2 tools in parallel, then ${many.chunks} chunks;` +
      ` median of ${many.batches} batches; load average before: ${loadBefore.toFixed(2)})\n`,
  );
  const row = (name: string, f: typeof many.gateway, violations: string) => [
    name,
    f.wallMs.toFixed(0),
    f.roundsPerS.toFixed(0),
    ms(f.p50Ms),
    ms(f.p99Ms),
    String(f.connections),
    violations,
  ];
  const directViolations = many.violations.filter((v) => v.startsWith('direct ')).length;
  console.log(
    table(
      ['', 'wall ms', 'rounds/s', 'p50 ms', 'p99 ms', 'new conns', 'violations'],
      [
        row('gateway /llm-exec/round/stream', many.gateway, String(many.violations.length - directViolations)),
        row('upstream direct /v1/chat/completions', many.direct, String(directViolations)),
      ],
    ),
  );
  console.log(
    `  gateway / direct: wall ${(many.gateway.wallMs / many.direct.wallMs).toFixed(2)}×, ` +
      `p50 ${(many.gateway.p50Ms / many.direct.p50Ms).toFixed(2)}×; ${many.checked} gateway rounds checked` +
      ` (warm-up included); client, gateway and upstream share this process`,
  );

  if (many.violations.length) {
    console.log(`\nviolations (${many.violations.length}):`);
    for (const v of many.violations.slice(0, SHOWN_VIOLATIONS)) console.log(`  ${v}`);
    if (many.violations.length > SHOWN_VIOLATIONS)
      console.log(`  … and ${many.violations.length - SHOWN_VIOLATIONS} more`);
    throw new Error(`${many.violations.length} event violation(s) in the concurrent rounds`);
  }
}
