import { Readable } from 'node:stream';
import { Agent } from 'undici';
import type { Transport, TransportResponse } from '../edge/runners/transport.ts';

/** A buffered answer: the text is read once; `body` is made only if someone asks for a stream. */
class BufferedResponse implements TransportResponse {
  constructor(
    readonly status: number,
    readonly content: string,
  ) {}

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  get body(): ReadableStream<Uint8Array> | null {
    return new Response(this.content).body;
  }

  async json(): Promise<unknown> {
    return JSON.parse(this.content);
  }

  async text(): Promise<string> {
    return this.content;
  }
}

/**
 * A `Transport` on undici's request API with keep-alive connections: about
 * 4× cheaper per forwarded call than `fetch` on Node (FACTS.md). Event
 * streams are passed through as they arrive; other bodies are read whole,
 * without building a web `Response`.
 */
export function undiciTransport({ connections = 128 }: { connections?: number } = {}): Transport {
  const agent = new Agent({ connections, keepAliveTimeout: 30_000, pipelining: 1 });
  return async (url, init) => {
    const { statusCode, headers, body } = await agent.request({
      origin: new URL(url).origin,
      path: url.slice(url.indexOf('/', url.indexOf('//') + 2)),
      method: init.method as 'GET',
      headers: init.headers,
      body: init.body,
      signal: init.signal,
    });
    if (String(headers['content-type'] ?? '').startsWith('text/event-stream')) {
      const stream = Readable.toWeb(body) as ReadableStream<Uint8Array>;
      return new Response(stream, { status: statusCode, headers: { 'content-type': 'text/event-stream' } });
    }
    return new BufferedResponse(statusCode, await body.text());
  };
}
