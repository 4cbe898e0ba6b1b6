import type { LoadResult } from './load.ts';

export const SCENARIOS = [
  'runner-direct',
  'bare-passthrough',
  'edge-node',
  'edge-node-headerless',
  'edge-node-chat-stream',
  'edge-wrangler',
] as const;
export type Scenario = (typeof SCENARIOS)[number];
export type Outcome = LoadResult | { error: string };
export type Outcomes = Partial<Record<Scenario, Outcome>>;

/** Targets from FACTS.md: edge on Node ≥ 0.8× the bare pass-through, ≤ 2 ms added p50. */
export const TARGETS = { edgeNodeVsBareRps: 0.8, edgeNodeAddedP50Ms: 2 };

export interface Comparison {
  /** rps of the first scenario over the second's. */
  rpsRatios: Record<string, number>;
  /** Latency each proxy adds over runner-direct, ms. */
  added: Record<string, { p50: number; p99: number }>;
}

const ok = (o: Outcome | undefined): o is LoadResult => !!o && !('error' in o);

/** Ratios and added latencies among the scenarios that produced numbers. */
export function compare(outcomes: Outcomes): Comparison {
  const rpsRatios: Record<string, number> = {};
  const added: Record<string, { p50: number; p99: number }> = {};
  const direct = outcomes['runner-direct'];
  const bare = outcomes['bare-passthrough'];
  const withSession = outcomes['edge-node'];
  const headerless = outcomes['edge-node-headerless'];
  if (ok(withSession) && ok(headerless))
    rpsRatios['edge-node-headerless / edge-node'] = headerless.rps / withSession.rps;
  for (const proxy of ['bare-passthrough', 'edge-node', 'edge-wrangler'] as const) {
    const p = outcomes[proxy];
    if (!ok(p)) continue;
    if (proxy !== 'bare-passthrough' && ok(bare)) rpsRatios[`${proxy} / bare-passthrough`] = p.rps / bare.rps;
    if (ok(direct)) {
      rpsRatios[`${proxy} / runner-direct`] = p.rps / direct.rps;
      added[proxy] = { p50: p.p50 - direct.p50, p99: p.p99 - direct.p99 };
    }
  }
  return { rpsRatios, added };
}

/** Scenarios that failed or whose numbers are meaningless (non-2xx answers, errors, timeouts). */
export function problems(outcomes: Outcomes): string[] {
  return SCENARIOS.flatMap((name) => {
    const o = outcomes[name];
    if (!o) return [`${name}: not run`];
    if ('error' in o) return [`${name}: ${o.error}`];
    if (o.non2xx || o.errors || o.timeouts)
      return [
        `${name}: ${o.non2xx} non-2xx (${JSON.stringify(o.statusCodes)}), ${o.errors} errors, ${o.timeouts} timeouts`,
      ];
    return [];
  });
}

/** The results table, ratios and added latencies as printable text. */
export function formatReport(outcomes: Outcomes, { rpsRatios, added }: Comparison): string {
  const cols = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors'];
  const rows = SCENARIOS.map((name) => {
    const o = outcomes[name];
    if (!ok(o)) return [name, o ? 'failed' : 'not run', '', '', '', ''];
    return [
      name,
      o.rps.toFixed(0),
      o.p50.toFixed(2),
      o.p99.toFixed(2),
      String(o.non2xx),
      String(o.errors + o.timeouts),
    ];
  });
  const widths = cols.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(cols), ...rows.map(line), ''];

  out.push('req/s ratios');
  for (const [name, value] of Object.entries(rpsRatios)) {
    const goal = name === 'edge-node / bare-passthrough' ? TARGETS.edgeNodeVsBareRps : undefined;
    const note = goal === undefined ? '' : `   target ≥ ${goal}: ${verdict(value >= goal)}`;
    out.push(`  ${name.padEnd(36)} ${value.toFixed(2).padStart(7)}${note}`);
  }
  out.push('', `  ${'added latency vs runner-direct (ms)'.padEnd(36)} ${'p50'.padStart(7)}  ${'p99'.padStart(7)}`);
  for (const [name, { p50, p99 }] of Object.entries(added)) {
    const goal = TARGETS.edgeNodeAddedP50Ms;
    const note = name === 'edge-node' ? `   target p50 ≤ ${goal}: ${verdict(p50 <= goal)}` : '';
    out.push(`  ${name.padEnd(36)} ${signed(p50).padStart(7)}  ${signed(p99).padStart(7)}${note}`);
  }
  return out.join('\n');
}

const signed = (n: number) => (n >= 0 ? '+' : '') + n.toFixed(2);
const verdict = (met: boolean) => (met ? 'met' : 'MISSED');
