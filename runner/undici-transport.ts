import { Readable } from 'node:stream';
import { Agent } from 'undici';
import type { Transport } from '../edge/runners/transport.ts';

/**
 * A `Transport` on undici's request API with keep-alive connections: about
 * 4× cheaper per forwarded call than `fetch` on Node (FACTS.md). Event
 * streams are passed through as they arrive; other bodies are read whole.
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
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) responseHeaders.append(name, v);
    }
    const noBody = statusCode === 204 || statusCode === 304 || init.method === 'HEAD';
    if (noBody) {
      body.resume();
      return new Response(null, { status: statusCode, headers: responseHeaders });
    }
    const streaming = String(headers['content-type'] ?? '').startsWith('text/event-stream');
    const payload = streaming
      ? (Readable.toWeb(body) as ReadableStream<Uint8Array>)
      : ((await body.bytes()) as Uint8Array<ArrayBuffer>);
    return new Response(payload, { status: statusCode, headers: responseHeaders });
  };
}
