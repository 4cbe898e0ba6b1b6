import { setTimeout as sleep } from 'node:timers/promises';
import { median } from './exec-report.ts';
import { ContentCheck, type FileServer } from './web-file-server.ts';
import { procStats } from './web-server.ts';
import { readUrlStream, type UrlStreamRead } from './web-sse.ts';

const MB = 1024 * 1024;

export interface SlowClientOptions {
  /** A fresh edgerunner server answering `url_stream`, and its pid (for its RSS). */
  server: { url: string; pid: number };
  files: FileServer;
  /** The body the file server offers; default 1 GiB. */
  sizeBytes?: number;
  /** How long the client reads before it aborts; default 20 s. */
  durationMs?: number;
  /** The client's wait after each event; default 5 ms. */
  eventDelayMs?: number;
  /** After each this many payload bytes, the client also pauses `pauseMs`; default 10 MiB and 2 s. */
  pauseEveryBytes?: number;
  pauseMs?: number;
  /** RSS sampling interval; default 250 ms. */
  sampleMs?: number;
}

export interface SlowClient {
  sizeBytes: number;
  durationMs: number;
  eventDelayMs: number;
  pauseEveryBytes: number;
  pauseMs: number;
  sampleMs: number;
  /** Server RSS before the request (median of 1 s of samples, after a warm-up url_stream), bytes. */
  baselineRss: number;
  /** Highest server RSS sampled while the client read, bytes. */
  maxRss: number;
  /** Server RSS 1 s after the abort, bytes. */
  afterRss: number;
  samples: number;
  /** Server RSS of each sample while the client read, bytes (every `sampleMs`). */
  rssSeries: number[];
  /** Body bytes the file server had sent when the client aborted. */
  fileSent: number;
  /** Payload bytes the client had decoded then, and the SSE bytes it had read. */
  clientRead: number;
  clientWire: number;
  /** Most sampled (file sent − client decoded): what sat in buffers between the two (sockets, server). */
  maxInFlight: number;
  /** Time from the abort until the file server's response closed (the server cancelled its fetch); null: it did not within 5 s. */
  upstreamClosedMs: number | null;
  /** What went wrong (a content mismatch, the stream ending early). */
  problems: string[];
}

/**
 * Memory under a slow client: the file server offers `sizeBytes` (streamed from the one pattern buffer); a client
 * reads the `url_stream` answer one event per `eventDelayMs`, pausing `pauseMs` after each `pauseEveryBytes`,
 * for `durationMs`, then aborts. Samples the server's RSS throughout and what the file server sent next to
 * what the client decoded: with back-pressure the server pulls only a little ahead of the client.
 */
export async function measureSlowClient({
  server,
  files,
  sizeBytes = 1024 * MB,
  durationMs = 20_000,
  eventDelayMs = 5,
  pauseEveryBytes = 10 * MB,
  pauseMs = 2_000,
  sampleMs = 250,
}: SlowClientOptions): Promise<SlowClient> {
  const problems: string[] = [];
  const rss = () => procStats(server.pid).rssBytes;

  const warm = new ContentCheck();
  await readUrlStream(server.url, `${files.url}/${MB}`, (bytes) => warm.feed(bytes));
  if (warm.problem(MB)) problems.push(`warm-up: ${warm.problem(MB)}`);
  const idle: number[] = [];
  for (let i = 0; i < 1000 / sampleMs; i++) {
    await sleep(sampleMs);
    idle.push(rss());
  }

  const index = files.sendings.length;
  const read: UrlStreamRead = { wireBytes: 0, payloadBytes: 0, events: 0 };
  const fileSent = () => files.sendings[index]?.sent ?? 0;
  const rssSeries: number[] = [];
  let maxInFlight = 0;
  const sample = () => {
    rssSeries.push(rss());
    maxInFlight = Math.max(maxInFlight, fileSent() - read.payloadBytes);
  };
  const sampler = setInterval(sample, sampleMs);

  const check = new ContentCheck();
  const abort = new AbortController();
  let pausedAt = 0;
  const reading = readUrlStream(
    server.url,
    `${files.url}/${sizeBytes}`,
    async (bytes) => {
      check.feed(bytes);
      await sleep(eventDelayMs);
      if (check.offset - pausedAt >= pauseEveryBytes) {
        pausedAt = check.offset;
        await sleep(pauseMs);
      }
    },
    { read, signal: abort.signal },
  ).then(
    () => problems.push(`the stream ended after ${read.payloadBytes} bytes, before the abort`),
    (err: unknown) => {
      if (!abort.signal.aborted) problems.push(`the stream failed: ${err instanceof Error ? err.message : err}`);
    },
  );

  await sleep(durationMs);
  sample();
  const sent = fileSent();
  const clientRead = read.payloadBytes;
  const clientWire = read.wireBytes;
  const abortedAt = performance.now();
  abort.abort();
  await reading;
  clearInterval(sampler);
  const closed = files.sendings[index]?.closed;
  const end = closed ? await Promise.race([closed, sleep(5_000).then(() => undefined)]) : undefined;
  if (end?.complete) problems.push('the file server sent the whole body');
  const mismatch = check.problem(check.offset);
  if (mismatch) problems.push(`slow client: ${mismatch}`);
  await sleep(1_000);

  return {
    sizeBytes,
    durationMs,
    eventDelayMs,
    pauseEveryBytes,
    pauseMs,
    sampleMs,
    baselineRss: median(idle),
    maxRss: Math.max(...rssSeries),
    afterRss: rss(),
    samples: rssSeries.length,
    rssSeries,
    fileSent: sent,
    clientRead,
    clientWire,
    maxInFlight,
    upstreamClosedMs: end ? end.atMs - abortedAt : null,
    problems,
  };
}
