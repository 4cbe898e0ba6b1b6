import { median } from './exec-report.ts';
import { ContentCheck, type FileServer } from './web-file-server.ts';
import { procStats } from './web-server.ts';
import { readUrlStream } from './web-sse.ts';

const MB = 1024 * 1024;

export interface WebThroughputOptions {
  /** The edgerunner server answering `url_stream`, and its pid (for its CPU time). */
  server: { url: string; pid: number };
  files: FileServer;
  sizeBytes: number;
  /** Measured rounds of each, alternating which goes first; default 3. One unmeasured round of each before. */
  rounds?: number;
}

/** One way of reading the file, medians over the rounds. */
export interface Way {
  /** Payload MB/s (MiB: 2^20 bytes). */
  payloadMBps: number;
  /** What crossed the socket to the client, MB/s: the SSE text for `url_stream`, the body for plain fetch. */
  wireMBps: number;
  /** The client process's CPU time / wall time (it also runs the file server), %. */
  clientCpuPct: number;
  /** The edgerunner server's CPU time / wall time, % (0 for plain fetch: it is not involved). */
  serverCpuPct: number;
  /** Per measured round. */
  roundsMBps: number[];
}

export interface WebThroughput {
  fetch: Way;
  urlStream: Way;
  /** Median of the per-round ratios url_stream / fetch, payload MB/s (goal ≥ 0.9). */
  ratio: number;
  /** url_stream's SSE bytes per payload byte (base64 is 4/3, plus the JSON around each chunk). */
  wirePerPayload: number;
  /** Events per url_stream read (chunks + completed). */
  events: number;
  /** Every body checked byte for byte against the generated content; what went wrong, if anything. */
  problems: string[];
}

interface Round {
  payloadMBps: number;
  wireMBps: number;
  clientCpuPct: number;
  serverCpuPct: number;
  wireBytes: number;
  events: number;
}

/**
 * The same `sizeBytes` file read two ways, alternating: (a) a plain `fetch` of the file server, the body read to
 * the end; (b) `url_stream` through the edgerunner server, every SSE event parsed and its chunk base64-decoded.
 * Both check every byte against the generated content (a memcmp per piece).
 */
export async function measureWebThroughput({
  server,
  files,
  sizeBytes,
  rounds = 3,
}: WebThroughputOptions): Promise<WebThroughput> {
  const fileUrl = `${files.url}/${sizeBytes}`;
  const problems: string[] = [];

  async function timed(body: (check: ContentCheck) => Promise<{ wireBytes: number; events: number }>) {
    const check = new ContentCheck();
    const cpu = process.cpuUsage();
    const serverCpu = procStats(server.pid).cpuS;
    const start = performance.now();
    const { wireBytes, events } = await body(check);
    const seconds = (performance.now() - start) / 1000;
    const { user, system } = process.cpuUsage(cpu);
    return {
      check,
      round: {
        payloadMBps: sizeBytes / MB / seconds,
        wireMBps: wireBytes / MB / seconds,
        clientCpuPct: ((user + system) / 1e6 / seconds) * 100,
        serverCpuPct: ((procStats(server.pid).cpuS - serverCpu) / seconds) * 100,
        wireBytes,
        events,
      },
    };
  }

  async function plainFetch(): Promise<Round> {
    const { check, round } = await timed(async (check) => {
      const res = await fetch(fileUrl);
      if (!res.ok || !res.body) throw new Error(`the file server answered ${res.status}`);
      for await (const chunk of res.body) check.feed(chunk);
      return { wireBytes: check.offset, events: 0 };
    });
    const problem = check.problem(sizeBytes);
    if (problem) problems.push(`plain fetch: ${problem}`);
    return round;
  }

  async function urlStream(): Promise<Round> {
    let completed: number | undefined;
    const { check, round } = await timed(async (check) => {
      const read = await readUrlStream(server.url, fileUrl, (bytes) => check.feed(bytes));
      completed = read.completed;
      return read;
    });
    const problem = check.problem(sizeBytes) ?? (completed !== sizeBytes ? `completed says ${completed}` : undefined);
    if (problem) problems.push(`url_stream: ${problem}`);
    return round;
  }

  await plainFetch();
  await urlStream();
  const a: Round[] = [];
  const b: Round[] = [];
  for (let i = 0; i < rounds; i++) {
    if (i % 2) b.push(await urlStream());
    a.push(await plainFetch());
    if (!(i % 2)) b.push(await urlStream());
  }
  const way = (rs: Round[]): Way => ({
    payloadMBps: median(rs.map((r) => r.payloadMBps)),
    wireMBps: median(rs.map((r) => r.wireMBps)),
    clientCpuPct: median(rs.map((r) => r.clientCpuPct)),
    serverCpuPct: median(rs.map((r) => r.serverCpuPct)),
    roundsMBps: rs.map((r) => r.payloadMBps),
  });
  return {
    fetch: way(a),
    urlStream: way(b),
    ratio: median(b.map((r, i) => r.payloadMBps / a[i]!.payloadMBps)),
    wirePerPayload: b[0]!.wireBytes / sizeBytes,
    events: b[0]!.events,
    problems,
  };
}
