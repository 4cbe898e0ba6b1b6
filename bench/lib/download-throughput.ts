import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Downloads } from '../../runner/models/downloader.ts';
import { startHubServer } from '../../test/helpers/hub-server.ts';

export interface DownloadThroughputOptions {
  sizeBytes: number;
  /** Rounds of one plain fetch and one download each, in alternating order; default 5. */
  rounds?: number;
  /** Verify the download's sha256 (the catalog's and the hub's X-Linked-Etag); default false: neither is given. */
  verify?: boolean;
}

export interface DownloadThroughput {
  /** Median over the rounds. */
  fetchMBps: number;
  /** Median over the rounds. */
  downloaderMBps: number;
  /** Median of the per-round ratios downloader / fetch (goal ≥ 0.9). */
  ratio: number;
}

const MB = 1024 * 1024;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Serves `sizeBytes` of random data from a local hub (in this process) and compares a plain `fetch` that
 * reads the body and drops it with the downloader writing it to disk (a fresh file each round).
 */
export async function measureDownloadThroughput({
  sizeBytes,
  rounds = 5,
  verify = false,
}: DownloadThroughputOptions): Promise<DownloadThroughput> {
  const bytes = randomBytes(sizeBytes);
  const sha256 = verify ? createHash('sha256').update(bytes).digest('hex') : undefined;
  const hub = await startHubServer({ files: { 'bench/download/file.bin': bytes }, lfs: verify });
  const dir = await mkdtemp(join(tmpdir(), 'edgerunner-bench-download-'));
  const downloads = new Downloads({ modelsDir: dir, hfEndpoint: hub.url });
  const mbps = (start: number) => sizeBytes / MB / ((performance.now() - start) / 1000);

  async function plainFetch(): Promise<number> {
    const start = performance.now();
    const res = await fetch(`${hub.url}bench/download/resolve/main/file.bin`);
    let received = 0;
    for await (const chunk of res.body!) received += chunk.byteLength;
    if (received !== sizeBytes) throw new Error(`fetch got ${received} of ${sizeBytes} bytes`);
    return mbps(start);
  }

  async function download(): Promise<number> {
    const start = performance.now();
    const { path, status } = await downloads.download('bench', {
      source: 'hf:bench/download/file.bin',
      size: sizeBytes,
      sha256,
    });
    const rate = mbps(start);
    if (status !== 'completed') throw new Error(`downloader answered ${status}`);
    await rm(path);
    return rate;
  }

  const fetchRates: number[] = [];
  const downloaderRates: number[] = [];
  try {
    await plainFetch();
    for (let i = 0; i < rounds; i++) {
      if (i % 2) downloaderRates.push(await download());
      fetchRates.push(await plainFetch());
      if (!(i % 2)) downloaderRates.push(await download());
    }
  } finally {
    await hub.close();
    await rm(dir, { recursive: true, force: true });
  }
  return {
    fetchMBps: median(fetchRates),
    downloaderMBps: median(downloaderRates),
    ratio: median(downloaderRates.map((rate, i) => rate / fetchRates[i]!)),
  };
}
