import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { localSite } from '../../test/helpers/local-site.ts';
import { appErrorOf } from '../../test/helpers/rejection.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGuardedFetch } from '../net/ssrf.ts';
import { streamUrl, type UrlStreamChunk, type UrlStreamEvent } from './url-stream.ts';

const MB = 1024 * 1024;
const BODY = randomBytes(MB);

/** What the endless and big bodies' handlers did, for the back-pressure and abort tests. */
interface Writer {
  /** Bytes whose `res.write` callback ran: handed to the kernel. */
  flushed: number;
  /** Times `res.write` said to wait for 'drain'. */
  stalls: number;
  closed: Promise<void>;
  res: ServerResponse;
}
const writers: Writer[] = [];
let releaseSlow: () => void = () => {};

/** Writes `total` bytes (Infinity: until the client goes) as fast as the client takes them. */
async function pump(req: IncomingMessage, res: ServerResponse, total: number): Promise<void> {
  const writer: Writer = { flushed: 0, stalls: 0, closed: once(res, 'close').then(() => {}), res };
  writers.push(writer);
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    ...(Number.isFinite(total) && { 'content-length': total }),
  });
  const piece = Buffer.alloc(64 * 1024, 7);
  for (let sent = 0; sent < total && !res.destroyed; sent += piece.length) {
    if (!res.write(piece, (err) => !err && (writer.flushed += piece.length))) {
      writer.stalls++;
      await Promise.race([once(res, 'drain'), writer.closed]);
    }
  }
  if (!res.destroyed) res.end();
}

function route(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url!, 'http://x').pathname;
  if (path === '/file') return void res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': MB }).end(BODY);
  if (path === '/chunked') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first part, ');
    return void setImmediate(() => res.end('second part'));
  }
  if (path === '/short') {
    // Announces 100 000 bytes, sends 1 000, then the connection breaks.
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 100_000 });
    return void res.write(Buffer.alloc(1000, 1), () => res.socket?.destroy());
  }
  if (path === '/slow') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('hello');
    return void new Promise<void>((resolve) => (releaseSlow = resolve)).then(() => res.end('world'));
  }
  if (path === '/big') return void pump(req, res, 32 * MB);
  if (path === '/endless') return void pump(req, res, Infinity);
  if (path === '/silent') return; // never answers
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
}

let origin: string;

let site: Awaited<ReturnType<typeof localSite>>;
beforeAll(async () => {
  site = await localSite(route);
  origin = site.origin;
});

afterAll(() => site.close());

const fetch = createGuardedFetch({ allowlist: ['127.0.0.1'] });

const isChunk = (event: UrlStreamEvent): event is UrlStreamChunk => 'chunk' in event;
const bytesOf = (event: UrlStreamChunk) => Buffer.from(event.chunk, 'base64');

async function collect(events: AsyncIterable<UrlStreamEvent>): Promise<UrlStreamEvent[]> {
  const out: UrlStreamEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

const failure = appErrorOf;

/** Waits until the writer's flushed count stays put, blocked on 'drain' (or done: everything was read). */
async function settled(writer: Writer): Promise<void> {
  let last = -1;
  while (!(writer.flushed === last && (writer.res.writableNeedDrain || writer.res.writableFinished))) {
    last = writer.flushed;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('streamUrl', () => {
  it('streams a body as base64 chunks of at most 64 KiB, with progress up to 100', async () => {
    const events = await collect(await streamUrl(`${origin}/file`, { fetch }));
    const chunks = events.filter(isChunk);
    expect(events.at(-1)).toEqual({ status: 'completed', received: MB });
    expect(chunks.length).toBeGreaterThanOrEqual(16);
    for (const chunk of chunks) {
      expect(bytesOf(chunk).length).toBeLessThanOrEqual(64 * 1024);
      expect(chunk).toMatchObject({ content_type: 'video/mp4', total: MB });
    }
    expect(Buffer.concat(chunks.map(bytesOf)).equals(BODY)).toBe(true);
    const progress = chunks.map((chunk) => chunk.progress!);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(100);
    expect(progress.every((p) => p === Math.round(p * 10) / 10)).toBe(true);
    expect(chunks.at(-1)!.received).toBe(MB);
  });

  it('re-chunks to chunkBytes', async () => {
    const events = await collect(await streamUrl(`${origin}/file`, { fetch, chunkBytes: 1000, flushAfterMs: 0 }));
    const sizes = events.filter(isChunk).map((chunk) => bytesOf(chunk).length);
    expect(sizes.slice(0, -1).every((size) => size === 1000)).toBe(true);
    expect(sizes.at(-1)).toBe(MB % 1000);
  });

  it('reports progress null when the length is unknown', async () => {
    const events = await collect(await streamUrl(`${origin}/chunked`, { fetch }));
    const chunks = events.filter(isChunk);
    expect(chunks.every((chunk) => chunk.progress === null && chunk.total === null)).toBe(true);
    expect(Buffer.concat(chunks.map(bytesOf)).toString()).toBe('first part, second part');
    expect(events.at(-1)).toEqual({ status: 'completed', received: 23 });
  });

  it('sends what arrived of a slow body without waiting for a full chunk', async () => {
    const iterator = (await streamUrl(`${origin}/slow`, { fetch }))[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(bytesOf(first.value as UrlStreamChunk).toString()).toBe('hello');
    releaseSlow();
    const rest: UrlStreamEvent[] = [];
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) rest.push(next.value);
    expect(Buffer.concat(rest.filter(isChunk).map(bytesOf)).toString()).toBe('world');
    expect(rest.at(-1)).toEqual({ status: 'completed', received: 10 });
  });

  it('fails after the bytes that arrived when the body is shorter than announced', async () => {
    const received: UrlStreamChunk[] = [];
    const err = await failure(
      (async () => {
        for await (const event of await streamUrl(`${origin}/short`, { fetch }))
          if (isChunk(event)) received.push(event);
      })(),
    );
    expect(err).toMatchObject({ status: 502, code: 'upstream_unreachable' });
    expect(Buffer.concat(received.map(bytesOf))).toEqual(Buffer.alloc(1000, 1));
    expect(received.at(-1)).toMatchObject({ received: 1000, total: 100_000, progress: 1 });
  });

  it('reads the body only as fast as the consumer takes events (back-pressure)', async () => {
    writers.length = 0;
    const iterator = (await streamUrl(`${origin}/big`, { fetch }))[Symbol.asyncIterator]();
    await iterator.next();
    await iterator.next();
    const writer = writers[0]!;
    await settled(writer);
    expect(writer.stalls).toBeGreaterThan(0);
    expect(writer.flushed).toBeLessThan(24 * MB); // kernel socket buffers hold a few MB at most
    await iterator.return!();
    await writer.closed;
  });

  it('stops the download when the signal aborts', async () => {
    writers.length = 0;
    const controller = new AbortController();
    const iterator = (await streamUrl(`${origin}/endless`, { fetch, signal: controller.signal }))[
      Symbol.asyncIterator
    ]();
    expect((await iterator.next()).value).toMatchObject({ progress: null, content_type: 'application/octet-stream' });
    const reason = new Error('client went away');
    controller.abort(reason);
    await writers[0]!.closed;
    await expect(iterator.next()).rejects.toBe(reason);
  });

  it('throws an upstream error status before streaming', async () => {
    const err = await failure(streamUrl(`${origin}/missing`, { fetch }));
    expect(err).toMatchObject({ status: 502, code: 'upstream_error' });
    expect(err.message).toContain('404');
  });

  it('throws a refused URL before streaming', async () => {
    const err = await failure(streamUrl(`${origin}/file`, { fetch: createGuardedFetch({ allowlist: [] }) }));
    expect(err).toMatchObject({ status: 400, code: 'ssrf_blocked' });
  });

  it('bounds the wait for the response headers', async () => {
    const err = await failure(streamUrl(`${origin}/silent`, { fetch, headersTimeoutMs: 50 }));
    expect(err).toMatchObject({ status: 504, code: 'upstream_timeout' });
  });

  it('names the url field when the URL does not parse', async () => {
    const err = await failure(streamUrl('nope', { fetch }));
    expect(err).toMatchObject({ status: 400, param: 'url' });
  });
});
