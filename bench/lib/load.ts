import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  headers?: Record<string, string>;
  /** Concurrent connections; default 32. */
  connections?: number;
  /** Measured seconds; default 10. */
  seconds?: number;
  /** Unmeasured seconds first; default 2. */
  warmupSeconds?: number;
  /** Default GET. */
  method?: 'GET' | 'POST';
  /** JSON body for POST. */
  body?: string;
  /** Headers that change with every request (e.g. single-use tokens); called once per request sent. */
  perRequest?: () => Record<string, string>;
}

export interface LoadResult {
  rps: number;
  /** Latency percentiles in ms, from every response's own timing (autocannon's histogram rounds to whole ms). */
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
}

/** Drives `url` with autocannon (each response read to its end): a warm-up run, then a measured one. Both are bounded in time. */
export async function measure({
  url,
  headers = {},
  connections = 32,
  seconds = 10,
  warmupSeconds = 2,
  method = 'GET',
  body,
  perRequest,
}: LoadOptions): Promise<LoadResult> {
  const request = {
    url,
    headers,
    connections,
    method,
    ...(body === undefined ? {} : { body }),
    ...(perRequest
      ? {
          requests: [
            {
              setupRequest: (req: { headers?: Record<string, string> }) => ({
                ...req,
                headers: { ...req.headers, ...perRequest() },
              }),
            },
          ],
        }
      : {}),
  };
  if (warmupSeconds > 0) await autocannon({ ...request, duration: warmupSeconds });
  const latencies: number[] = [];
  const run = autocannon({ ...request, duration: seconds });
  run.on('response', (_client, _status, _bytes, ms) => latencies.push(ms));
  const result = await run;
  latencies.sort((a, b) => a - b);
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count]));
  return {
    rps: result.requests.total / result.duration,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
  };
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
