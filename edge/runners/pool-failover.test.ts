import { describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { createRunnerSigner } from '../../shared/runner-token.ts';
import { sseEvent } from '../../shared/sse.ts';
import { testApp } from '../../test/helpers/test-app.ts';
import { RunnerPool } from './pool.ts';
import { RemoteInference } from './remote-inference.ts';
import { TransportError, type Transport, type TransportInit, type TransportResponse } from './transport.ts';

const sign = createRunnerSigner({ secret: 'pool-failover-test-secret' });
type Handler = (init: TransportInit) => TransportResponse | Promise<TransportResponse>;

/** Two registered runners, `a` picked first; each answers with its handler, and every call is recorded. */
async function twoRunners(handlers: { a: Handler; b: Handler }) {
  const calls: string[] = [];
  const logged: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
  const note = (msg: string, fields?: Record<string, unknown>) => void logged.push({ msg, fields });
  const logger: Logger = { debug: () => {}, info: note, warn: note, error: note };
  const transport: Transport = async (url, init) => {
    const id = new URL(url).hostname.split('.')[0] as 'a' | 'b';
    calls.push(`${id} ${init.method} ${new URL(url).pathname}`);
    return handlers[id](init);
  };
  const pool = new RunnerPool({ sign, transport, logger });
  for (const [id, busy] of [
    ['a', 0],
    ['b', 1],
  ] as const) {
    await pool.heartbeat({ id, url: `http://${id}.runner.test`, loadedModels: [], capacity: 4, busy });
  }
  const runner = async (id: string) => (await pool.candidates()).find((r) => r.id === id)!;
  return { pool, calls, logged, runner };
}

const json = (body: unknown, init: ResponseInit = {}) =>
  new Response(JSON.stringify(body), { ...init, headers: { 'content-type': 'application/json', ...init.headers } });
const ok = () => json({ models: [] });
const refused = () => Promise.reject(new TransportError('connect ECONNREFUSED', false));
const reset = () => Promise.reject(new TransportError('other side closed', true));

function deep(levels: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

describe('runner pool: failover and health', () => {
  it('answers 400 for a body it cannot serialise, and touches no runner', async () => {
    const { pool, calls, runner } = await twoRunners({ a: ok, b: ok });
    const err = await pool.call('/_runner/v1/chat', { body: { x: deep(200_000) } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).status).toBe(400);
    expect(calls).toEqual([]);
    expect((await runner('a')).downUntil).toBe(0);
    expect((await pool.call('/_runner/v1/models')).runner.id).toBe('a');
  });

  it('does not take a runner for down when it throws something other than a transport failure', async () => {
    const { pool, runner } = await twoRunners({ a: () => Promise.reject(new RangeError('bad header')), b: ok });
    await expect(pool.call('/_runner/v1/models')).rejects.toThrow('bad header');
    expect((await runner('a')).downUntil).toBe(0);
  });

  it('sends a POST to the next runner only when the first never took the connection', async () => {
    const first = await twoRunners({ a: refused, b: ok });
    const a = await first.runner('a');
    expect((await first.pool.call('/_runner/v1/embed', { body: { inputs: ['x'] } })).runner.id).toBe('b');
    expect(first.calls).toEqual(['a POST /_runner/v1/embed', 'b POST /_runner/v1/embed']);
    expect(a.downUntil).toBeGreaterThan(0);

    const second = await twoRunners({ a: reset, b: ok });
    const err = (await second.pool
      .call('/_runner/v1/embed', { body: { inputs: ['x'] } })
      .catch((e: unknown) => e)) as AppError;
    expect(err.status).toBe(502);
    expect(err.code).toBe('runner_lost');
    expect(second.calls).toEqual(['a POST /_runner/v1/embed']);
    expect((await second.pool.candidates()).map((r) => r.id)).toEqual(['b']);
    expect(second.logged.map((l) => l.msg)).toContain('runner unreachable');
  });

  it('retries a GET elsewhere whatever the transport failure', async () => {
    const { pool, calls } = await twoRunners({ a: reset, b: ok });
    expect((await pool.call('/_runner/v1/models')).runner.id).toBe('b');
    expect(calls).toHaveLength(2);
  });

  it('goes on after a 503 before any byte; when all refuse, the runner’s own 503 and Retry-After come back', async () => {
    const busy = () =>
      json({ error: { message: 'at capacity', code: 'busy' } }, { status: 503, headers: { 'retry-after': '7' } });
    const some = await twoRunners({ a: busy, b: ok });
    expect((await some.pool.call('/_runner/v1/embed', { body: {} })).runner.id).toBe('b');
    const all = await twoRunners({ a: busy, b: busy });
    const err = (await all.pool.call('/_runner/v1/embed', { body: {} }).catch((e: unknown) => e)) as AppError;
    expect(err.status).toBe(503);
    expect(err.message).toBe('at capacity');
    expect(err.headers['Retry-After']).toBe('7');
    expect((await all.runner('a')).downUntil).toBe(0);
  });

  it('counts a stream as in flight until it ends, a short call until its answer', async () => {
    let close!: () => void;
    const stream = () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(sseEvent({ progress: 0.5 }));
            close = () => c.close();
          },
        }),
        { headers: { 'content-type': 'text/event-stream' } },
      );
    const { pool, runner } = await twoRunners({ a: stream, b: ok });
    const { response } = await pool.call('/_runner/v1/models/m/load', { method: 'POST', stream: true });
    expect((await runner('a')).inflight).toBe(1);
    const text = response.text();
    close();
    await text;
    expect((await runner('a')).inflight).toBe(0);
    await pool.call('/_runner/v1/models');
    expect((await runner('a')).inflight).toBe(0);
  });
});

describe('runner streams through the edge', () => {
  const request = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] };
  const sse = (events: unknown[], end: 'close' | 'break') =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(c) {
          for (const e of events) c.enqueue(sseEvent(e));
          if (end === 'close') c.close();
          else c.error(new TypeError('terminated', { cause: new Error('other side closed') }));
        },
      }),
      { headers: { 'content-type': 'text/event-stream' } },
    );
  const drain = async (events: AsyncIterable<unknown>) => {
    const seen: unknown[] = [];
    try {
      for await (const e of events) seen.push(e);
    } catch (err) {
      return { seen, err: err as AppError };
    }
    return { seen, err: undefined };
  };

  it('a stream closed without its final event is an error, not a complete answer', async () => {
    const { pool, logged } = await twoRunners({ a: () => sse([{ type: 'delta', content: 'he' }], 'close'), b: ok });
    const { seen, err } = await drain(await new RemoteInference(pool).chat(request, { sessionId: 's' }));
    expect(seen).toHaveLength(1);
    expect(err?.status).toBe(502);
    expect(err?.code).toBe('runner_stream_incomplete');
    expect(logged.map((l) => l.msg)).toContain('runner stream ended before its final event');
  });

  it('a runner lost mid-stream ends it with runner_lost, is logged and skipped for a while', async () => {
    const { pool, logged, runner } = await twoRunners({
      a: () => sse([{ type: 'delta', content: 'he' }], 'break'),
      b: ok,
    });
    const a = await runner('a');
    const { err } = await drain(await new RemoteInference(pool).chat(request, { sessionId: 's' }));
    expect(err?.code).toBe('runner_lost');
    expect(err?.message).toContain('Runner a was lost');
    expect(logged.find((l) => l.msg === 'runner lost mid-stream')?.fields).toMatchObject({ runner: 'a' });
    expect(a.downUntil).toBeGreaterThan(0);
    expect(a.inflight).toBe(0);
    expect((await pool.candidates()).map((r) => r.id)).toEqual(['b']);
  });

  it('a complete stream passes through', async () => {
    const done = {
      type: 'done',
      finishReason: 'stop',
      usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 },
    };
    const { pool } = await twoRunners({ a: () => sse([{ type: 'delta', content: 'hi' }, done], 'close'), b: ok });
    const { seen, err } = await drain(await new RemoteInference(pool).chat(request, { sessionId: 's' }));
    expect(err).toBeUndefined();
    expect(seen).toHaveLength(2);
  });

  it('a runner’s 429 reaches the client with its Retry-After and rate-limit headers', async () => {
    const limited = () =>
      json(
        { error: { message: 'slow down', code: 'rate_limited' } },
        { status: 429, headers: { 'retry-after': '3', 'x-ratelimit-remaining-requests': '0', 'x-other': 'no' } },
      );
    const { pool } = await twoRunners({ a: limited, b: ok });
    const t = await testApp({ inference: new RemoteInference(pool) });
    try {
      const res = await t.app.request('http://127.0.0.1/v1/embeddings', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', input: 'x' }),
      });
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('3');
      expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('0');
      expect(res.headers.get('x-other')).toBeNull();
      expect((await res.json()).error.message).toBe('slow down');
    } finally {
      await t.cleanup();
    }
  });
});
