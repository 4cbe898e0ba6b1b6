import { describe, expect, it } from 'vitest';
import { fetchWithRetry, retryAfterMs } from './retry.ts';

const answer = (status: number, headers: Record<string, string> = {}) => new Response('x', { status, headers });

/** A call that answers (or throws) from a script, counting its tries. */
function scripted(...steps: Array<number | Error | [number, Record<string, string>]>) {
  const calls = { count: 0, at: [] as number[] };
  const call = async () => {
    calls.at.push(Date.now());
    const step = steps[Math.min(calls.count++, steps.length - 1)]!;
    if (step instanceof Error) throw step;
    return Array.isArray(step) ? answer(step[0], step[1]) : answer(step);
  };
  return { call, calls };
}

describe('fetchWithRetry', () => {
  it('retries 429 and 5xx with doubling waits, then returns the first other answer', async () => {
    const { call, calls } = scripted(429, 503, 200);
    const res = await fetchWithRetry(call, { baseDelayMs: 20 });
    expect(res.status).toBe(200);
    expect(calls.count).toBe(3);
    expect(calls.at[1]! - calls.at[0]!).toBeGreaterThanOrEqual(18);
    expect(calls.at[2]! - calls.at[1]!).toBeGreaterThanOrEqual(38);
  });

  it('gives back the last error answer after the last try, and never retries a 4xx', async () => {
    const failing = scripted(500);
    expect((await fetchWithRetry(failing.call, { tries: 3, baseDelayMs: 1 })).status).toBe(500);
    expect(failing.calls.count).toBe(3);
    const refused = scripted(401, 200);
    expect((await fetchWithRetry(refused.call, { baseDelayMs: 1 })).status).toBe(401);
    expect(refused.calls.count).toBe(1);
  });

  it('honours a short Retry-After and gives up at once on a long one', async () => {
    const short = scripted([429, { 'retry-after-ms': '60' }], 200);
    await fetchWithRetry(short.call, { baseDelayMs: 1 });
    expect(short.calls.at[1]! - short.calls.at[0]!).toBeGreaterThanOrEqual(55);
    const long = scripted([429, { 'retry-after': '120' }], 200);
    const res = await fetchWithRetry(long.call, { baseDelayMs: 1, maxRetryAfterMs: 5_000 });
    expect(res.status).toBe(429);
    expect(long.calls.count).toBe(1);
  });

  it('retries connection errors and rethrows the last one', async () => {
    const flaky = scripted(new TypeError('fetch failed'), 200);
    expect((await fetchWithRetry(flaky.call, { baseDelayMs: 1 })).status).toBe(200);
    const down = scripted(new TypeError('fetch failed'));
    await expect(fetchWithRetry(down.call, { baseDelayMs: 1 })).rejects.toThrow('fetch failed');
    expect(down.calls.count).toBe(3);
  });

  it('stops retrying when the signal aborts during a wait', async () => {
    const { call, calls } = scripted(503);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('client left')), 30);
    const started = Date.now();
    await expect(fetchWithRetry(call, { baseDelayMs: 5_000, signal: controller.signal })).rejects.toThrow(
      'client left',
    );
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(calls.count).toBe(1);
  });
});

describe('retryAfterMs', () => {
  it('reads retry-after-ms, seconds and HTTP dates', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '150', 'retry-after': '9' }), now)).toBe(150);
    expect(retryAfterMs(new Headers({ 'retry-after': '2' }), now)).toBe(2_000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:03 GMT' }), now)).toBe(3_000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(retryAfterMs(new Headers(), now)).toBeUndefined();
  });
});
