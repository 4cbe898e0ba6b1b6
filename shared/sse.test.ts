import { describe, expect, it } from 'vitest';
import { parseSSE, toSSE } from './sse.ts';

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
