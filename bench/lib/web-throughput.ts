import { median } from './exec-report.ts';
import { ContentCheck, type FileServer } from './web-file-server.ts';
import { procStats } from './web-server.ts';
import { readUrlStream } from './web-sse.ts';

const MB = 1024 * 1024;

export interface WebThroughputOptions {
  /** The edgerunner server answering `url_stream`, and its pid (for its CPU time). */
  server: { url: string; pid: number };
  /** The bare Node proxy (web-passthrough.ts) and its pid. */
  passthrough: { url: string; pid: number };
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
  /** The proxy's CPU time / wall time, % (edgerunner's, or the bare pass-through's; ~0 for plain fetch). */
  serverCpuPct: number;
  /** Per measured round. */
  roundsMBps: number[];
}

export interface WebThroughput {
  fetch: Way;
  /** The same file through the bare Node proxy: the ceiling of any proxy hop here. */
  passthrough: Way;
  urlStream: Way;
  /** Median of the per-round ratios url_stream / fetch, payload MB/s (goal ≥ 0.9). */
  ratio: number;
  /** Median of the per-round ratios url_stream / bare pass-through: what our own code costs. */
  ratioToPassthrough: number;
  /** Median of the per-round ratios bare pass-through / fetch: what a proxy hop costs on this machine. */
  passthroughRatio: number;
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
 * The same `sizeBytes` file read three ways, in rotating order: (a) a plain `fetch` of the file server, the
 * body read to the end; (b) the same through the bare Node proxy; (c) `url_stream` through the edgerunner
 * server, every SSE event parsed and its chunk base64-decoded. All check every byte against the generated
 * content (a memcmp per piece).
 */
export async function measureWebThroughput({
  server,
  passthrough,
  files,
  sizeBytes,
  rounds = 3,
}: WebThroughputOptions): Promise<WebThroughput> {
  const fileUrl = `${files.url}/${sizeBytes}`;
  const problems: string[] = [];

  async function timed(
    proxyPid: number,
    body: (check: ContentCheck) => Promise<{ wireBytes: number; events: number }>,
  ) {
    const check = new ContentCheck();
    const cpu = process.cpuUsage();
    const serverCpu = procStats(proxyPid).cpuS;
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
        serverCpuPct: ((procStats(proxyPid).cpuS - serverCpu) / seconds) * 100,
        wireBytes,
        events,
      },
    };
  }

  async function bodyOf(url: string, name: string): Promise<Round> {
    const { check, round } = await timed(server.pid, async (check) => {
      const res = await fetch(url);
      if (!res.ok || !res.body) throw new Error(`${name} answered ${res.status}`);
      for await (const chunk of res.body) check.feed(chunk);
      return { wireBytes: check.offset, events: 0 };
    });
    const problem = check.problem(sizeBytes);
    if (problem) problems.push(`${name}: ${problem}`);
    return round;
  }
  const plainFetch = () => bodyOf(fileUrl, 'plain fetch');
  const bare = async () => {
    const proxied = `${passthrough.url}/?url=${encodeURIComponent(fileUrl)}`;
    const cpuBefore = procStats(passthrough.pid).cpuS;
    const start = performance.now();
    const round = await bodyOf(proxied, 'bare pass-through');
    const proxyCpuS = procStats(passthrough.pid).cpuS - cpuBefore;
    return { ...round, serverCpuPct: (proxyCpuS / ((performance.now() - start) / 1000)) * 100 };
  };

  async function urlStream(): Promise<Round> {
    let completed: number | undefined;
    const { check, round } = await timed(server.pid, async (check) => {
      const read = await readUrlStream(server.url, fileUrl, (bytes) => check.feed(bytes));
      completed = read.completed;
      return read;
    });
    const problem = check.problem(sizeBytes) ?? (completed !== sizeBytes ? `completed says ${completed}` : undefined);
    if (problem) problems.push(`url_stream: ${problem}`);
    return round;
  }

  await plainFetch();
  await bare();
  await urlStream();
  const a: Round[] = [];
  const p: Round[] = [];
  const b: Round[] = [];
  const ways = [
    () => plainFetch().then((r) => a.push(r)),
    () => bare().then((r) => p.push(r)),
    () => urlStream().then((r) => b.push(r)),
  ];
  for (let i = 0; i < rounds; i++) for (let k = 0; k < ways.length; k++) await ways[(i + k) % ways.length]!();
  const way = (rs: Round[]): Way => ({
    payloadMBps: median(rs.map((r) => r.payloadMBps)),
    wireMBps: median(rs.map((r) => r.wireMBps)),
    clientCpuPct: median(rs.map((r) => r.clientCpuPct)),
    serverCpuPct: median(rs.map((r) => r.serverCpuPct)),
    roundsMBps: rs.map((r) => r.payloadMBps),
  });
  return {
    fetch: way(a),
    passthrough: way(p),
    urlStream: way(b),
    ratio: median(b.map((r, i) => r.payloadMBps / a[i]!.payloadMBps)),
    ratioToPassthrough: median(b.map((r, i) => r.payloadMBps / p[i]!.payloadMBps)),
    passthroughRatio: median(p.map((r, i) => r.payloadMBps / a[i]!.payloadMBps)),
    wirePerPayload: b[0]!.wireBytes / sizeBytes,
    events: b[0]!.events,
    problems,
  };
}
