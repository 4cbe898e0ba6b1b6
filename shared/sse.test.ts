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
