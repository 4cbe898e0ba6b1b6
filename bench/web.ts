import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stop, stopAll, stopChildrenOnExit } from '../test/helpers/child-processes.ts';
import { table, verdict } from './lib/exec-report.ts';
import { startFileServer } from './lib/web-file-server.ts';
import { startPassthrough, startWebServer } from './lib/web-server.ts';
import { measureSlowClient } from './lib/web-slow-client.ts';
import { measureWebThroughput } from './lib/web-throughput.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MB = 1024 * 1024;
/** The issue's goal: url_stream's payload throughput at least this share of a plain fetch's. */
const GOAL_RATIO = 0.9;
/** The slow client's goal: the server's RSS grows by less than this share of the body offered (1 GiB: 128 MiB). */
const GOAL_RSS_GROWTH_SHARE = 1 / 8;
/** The RSS timeline printed: one sample in this many ms. */
const TIMELINE_MS = 2_000;

export interface WebOptions {
  /** The throughput file; default 256 MiB. */
  sizeBytes?: number;
  /** Measured rounds of each way; default `BENCH_ROUNDS` or 3. */
  rounds?: number;
  /** The slow client's reading time; default 20 s. */
  slowMs?: number;
}

/**
 * `npm run bench -- web`: `url_stream` (`POST /v1/ai/process`) of the embedded server, in its own process, with
 * the file on a local file server (this process).
 * 1. Throughput: a 256 MiB file by plain `fetch`, through a bare Node pass-through proxy (the ceiling of any
 *    proxy hop here) and through `url_stream` (SSE parsed, chunks base64-decoded), in rotating order, every byte
 *    checked; payload and wire MB/s, the ratios (goal ≥ 0.9× of plain fetch), CPU of client and proxy.
 * 2. A slow client on a fresh server: 1 GiB offered, read slowly for 20 s, then aborted; the server's RSS
 *    (baseline, max) and what the file server sent next to what the client read (back-pressure).
 * Prints a table, writes `.tmp/bench-web.json`; throws on any byte mismatch or a stream that failed.
 */
export async function run({
  sizeBytes = 256 * MB,
  rounds = Number(process.env.BENCH_ROUNDS ?? 3),
  slowMs = 20_000,
}: WebOptions = {}): Promise<void> {
  stopChildrenOnExit();
  const loadBefore = loadavg()[0]!;
  if (loadBefore > 0.5)
    console.error(`note: load average is ${loadBefore.toFixed(2)}; other work will skew the numbers`);
  const tmp = await mkdtemp(join(tmpdir(), 'edgerunner-bench-web-'));
  const files = await startFileServer();
  try {
    console.error(`web: throughput, ${sizeBytes / MB} MiB, ${rounds} rounds each (+1 unmeasured)`);
    const server = await startWebServer({ dir: join(tmp, 'throughput') });
    const passthrough = await startPassthrough();
    const speed = await measureWebThroughput({ server, passthrough, files, sizeBytes, rounds }).finally(() =>
      Promise.all([stop(server.child), stop(passthrough.child)]),
    );

    console.error(`web: slow client on a fresh server, 1 GiB offered, ${slowMs / 1000} s`);
    const fresh = await startWebServer({ dir: join(tmp, 'slow') });
    const slow = await measureSlowClient({ server: fresh, files, durationMs: slowMs }).finally(() => stop(fresh.child));

    const mbps = (x: number) => x.toFixed(0);
    const pct = (x: number) => `${x.toFixed(0)}%`;
    const mib = (bytes: number) => (bytes / MB).toFixed(1);
    console.log(
      `\nweb: throughput, ${sizeBytes / MB} MiB over 127.0.0.1 (MiB/s; median of ${rounds} rounds each,` +
        ` alternating; CPU % of one core; load average before: ${loadBefore.toFixed(2)})\n`,
    );
    const way = (name: string, w: typeof speed.fetch, note: string) => [
      name,
      mbps(w.payloadMBps),
      mbps(w.wireMBps),
      pct(w.clientCpuPct),
      pct(w.serverCpuPct),
      w.roundsMBps.map(mbps).join(' '),
      note,
    ];
    const ratioMet = speed.ratio >= GOAL_RATIO;
    console.log(
      table(
        ['', 'payload', 'wire', 'client CPU', 'server CPU', 'rounds', ''],
        [
          way('plain fetch of the file', speed.fetch, ''),
          way(
            'bare Node pass-through (no base64)',
            speed.passthrough,
            'Hono + node-server + fetch, bytes as they come',
          ),
          way(
            'url_stream (SSE, base64 decoded)',
            speed.urlStream,
            `${speed.events} events, wire ${speed.wirePerPayload.toFixed(3)}× payload`,
          ),
          [
            '  url_stream / fetch (payload)',
            `${speed.ratio.toFixed(2)}×`,
            '',
            '',
            '',
            '',
            `goal ≥ ${GOAL_RATIO}×: ${verdict(ratioMet)}`,
          ],
          [
            '  bare pass-through / fetch',
            `${speed.passthroughRatio.toFixed(2)}×`,
            '',
            '',
            '',
            '',
            'any proxy hop here',
          ],
          [
            '  url_stream / bare pass-through',
            `${speed.ratioToPassthrough.toFixed(2)}×`,
            '',
            '',
            '',
            '',
            'what our code costs',
          ],
        ],
      ),
    );
    console.log('  (client CPU: this process, which also runs the file server; server: the proxy process)');

    const growth = slow.maxRss - slow.baselineRss;
    const goalGrowth = slow.sizeBytes * GOAL_RSS_GROWTH_SHARE;
    const memMet = growth < goalGrowth && slow.fileSent < slow.sizeBytes;
    console.log(
      `\nweb: slow client, ${slow.sizeBytes / MB} MiB offered; the client waits ${slow.eventDelayMs} ms per event and` +
        ` ${slow.pauseMs / 1000} s per ${slow.pauseEveryBytes / MB} MiB, aborts after ${slow.durationMs / 1000} s;` +
        ` server RSS every ${slow.sampleMs} ms (${slow.samples} samples)\n`,
    );
    console.log(
      table(
        ['', 'MiB', ''],
        [
          ['server RSS before (baseline)', mib(slow.baselineRss), ''],
          ['server RSS max while reading', mib(slow.maxRss), ''],
          ['  max − baseline', mib(growth), `goal < ${mib(goalGrowth)} MiB and not all sent: ${verdict(memMet)}`],
          ['server RSS 1 s after the abort', mib(slow.afterRss), ''],
          ['file server sent by the abort', mib(slow.fileSent), `of ${mib(slow.sizeBytes)}`],
          ['client decoded by the abort', mib(slow.clientRead), `${mib(slow.clientWire)} MiB of SSE`],
          ['  sent − decoded, max sampled', mib(slow.maxInFlight), 'in sockets and the server'],
        ],
      ),
    );
    const every = Math.max(1, Math.round(TIMELINE_MS / slow.sampleMs));
    const timeline = slow.rssSeries.filter((_, i) => i % every === every - 1).map((x) => (x / MB).toFixed(0));
    console.log(`  server RSS every ${TIMELINE_MS / 1000} s while reading (MiB): ${timeline.join(' ')}`);
    console.log(
      `  upstream closed after the abort: ${slow.upstreamClosedMs === null ? 'NO (not within 5 s)' : `${slow.upstreamClosedMs.toFixed(0)} ms`}`,
    );

    const out = join(ROOT, '.tmp/bench-web.json');
    await mkdir(join(ROOT, '.tmp'), { recursive: true });
    const meta = { date: new Date().toISOString(), node: process.version, loadBefore, sizeBytes, rounds };
    await writeFile(out, JSON.stringify({ ...meta, throughput: speed, slowClient: slow }, null, 2) + '\n');
    console.log(`\nwrote ${out}`);

    const problems = [...speed.problems, ...slow.problems];
    if (problems.length) throw new Error(`byte or stream problems:\n  ${problems.join('\n  ')}`);
  } finally {
    await files.close();
    await stopAll();
    await rm(tmp, { recursive: true, force: true });
  }
}
