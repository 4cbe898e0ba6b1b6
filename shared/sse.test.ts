import { describe, expect, it } from 'vitest';
import { parseSSE, SSEEventTooLarge, toSSE } from './sse.ts';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('SSE', () => {
  it('round-trips JSON events and the [DONE] marker', async () => {
    async function* source() {
      yield { progress: 0.5 };
      yield { status: 'loaded' };
    }
    const stream = toSSE(source(), { done: '[DONE]' });
    expect(await collect(parseSSE(stream))).toEqual(['{"progress":0.5}', '{"status":"loaded"}', '[DONE]']);
  });

  it('parses events split across chunks, CRLF endings and multi-line data', async () => {
    const parts = ['data: {"a"', ':1}\r\n\r\ndata: line1\ndata: line2\n\n: comment\n\n', 'data: tail\n\n'];
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (const p of parts) c.enqueue(new TextEncoder().encode(p));
        c.close();
      },
    });
    expect(await collect(parseSSE(stream))).toEqual(['{"a":1}', 'line1\nline2', 'tail']);
  });
});

describe('toSSE read-ahead', () => {
  /** A source of 1 KiB pre-encoded events that counts how many were pulled. */
  function counted() {
    const state = { pulled: 0 };
    async function* source() {
      for (let i = 0; i < 100; i++) {
        state.pulled++;
        yield new Uint8Array(1024);
      }
    }
    return { state, source: source() };
  }
  const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

  it('prepares events up to aheadBytes while nobody reads, and one by default', async () => {
    const ahead = counted();
    const stream = toSSE(ahead.source, { aheadBytes: 8 * 1024 });
    await settle();
    expect(ahead.state.pulled).toBe(8);
    const reader = stream.getReader();
    await reader.read();
    await settle();
    expect(ahead.state.pulled).toBe(9); // one taken, one more prepared: still 8 KiB waiting
    await reader.cancel();

    const plain = counted();
    toSSE(plain.source);
    await settle();
    expect(plain.state.pulled).toBe(1);
  });
});

describe('parseSSE bounds', () => {
  const chunks = (parts: string[]) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (const p of parts) c.enqueue(new TextEncoder().encode(p));
        c.close();
      },
    });

  it('fails a stream whose event never ends before the limit, instead of buffering it', async () => {
    const endless = chunks(['data: ok\n\n', 'data: ', ...Array.from({ length: 20 }, () => 'x'.repeat(100))]);
    const seen: string[] = [];
    const err = await (async () => {
      for await (const data of parseSSE(endless, undefined, { maxEventChars: 1_000 })) seen.push(data);
    })().catch((e: unknown) => e);
    expect(seen).toEqual(['ok']);
    expect(err).toBeInstanceOf(SSEEventTooLarge);
  });

  it('keeps events under the limit, however many', async () => {
    const many = chunks(Array.from({ length: 50 }, (_, i) => `data: ${'y'.repeat(500)}${i}\n\n`));
    expect(await collect(parseSSE(many, undefined, { maxEventChars: 1_000 }))).toHaveLength(50);
  });
});
