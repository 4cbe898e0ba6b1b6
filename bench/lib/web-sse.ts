import type { UrlStreamEvent } from '../../edge/web/url-stream.ts';

const DATA = Buffer.from('data: ');

/** Counts of one `url_stream` answer as read. */
export interface UrlStreamRead {
  /** SSE bytes off the wire (headers aside). */
  wireBytes: number;
  /** Decoded payload bytes. */
  payloadBytes: number;
  events: number;
  /** The final event's `received`, once it came. */
  completed?: number;
}

/**
 * The `data` of each SSE event of `body`, as a latin1 string (the events are ASCII JSON). Lean, for a client
 * that must not be the bottleneck: finds the blank line with `Buffer.indexOf` in each new read only, and
 * copies an event only when it spans reads. One `data:` line per event, LF line ends (what `shared/sse.ts`
 * writes); anything else throws. Reads the body only as events are asked for (back-pressure holds).
 */
export async function* sseData(body: ReadableStream<Uint8Array>, read: UrlStreamRead): AsyncGenerator<string> {
  const parts: Buffer[] = [];
  const event = (last: Buffer): string => {
    const whole = parts.length ? Buffer.concat([...parts, last]) : last;
    parts.length = 0;
    if (!whole.subarray(0, DATA.length).equals(DATA) || whole.includes(10))
      throw new Error(`not one data line: ${whole.subarray(0, 80).toString('latin1')}…`);
    return whole.toString('latin1', DATA.length);
  };
  let endsInLf = false;
  for await (const value of body) {
    const chunk = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    read.wireBytes += chunk.length;
    let start = 0;
    if (endsInLf && chunk[0] === 10 && parts.length) {
      // The blank line spans two reads: the event is what is held, less its last LF.
      const lastPart = parts.pop()!;
      yield event(lastPart.subarray(0, lastPart.length - 1));
      start = 1;
    }
    for (let end = chunk.indexOf('\n\n', start); end !== -1; end = chunk.indexOf('\n\n', start)) {
      yield event(chunk.subarray(start, end));
      start = end + 2;
    }
    if (start < chunk.length) parts.push(chunk.subarray(start));
    endsInLf = chunk[chunk.length - 1] === 10;
  }
  if (parts.length) throw new Error('the stream ended inside an event');
}

/**
 * `POST {server}/v1/ai/process` `{tool: 'url_stream', config: {url}}`: each decoded chunk to `onChunk`, in order;
 * the counts in `read` as it goes (for a caller that samples them). Checks every event's `received` against
 * the bytes decoded so far; throws on an error event, a non-2xx answer or an out-of-place event.
 */
export async function readUrlStream(
  server: string,
  url: string,
  onChunk: (bytes: Buffer) => void | Promise<void>,
  { read = { wireBytes: 0, payloadBytes: 0, events: 0 }, signal }: { read?: UrlStreamRead; signal?: AbortSignal } = {},
): Promise<UrlStreamRead> {
  const res = await fetch(`${server}/v1/ai/process`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tool: 'url_stream', config: { url } }),
    signal,
  });
  if (!res.ok || !res.body) throw new Error(`url_stream answered ${res.status}: ${await res.text()}`);
  for await (const data of sseData(res.body, read)) {
    const event = JSON.parse(data) as UrlStreamEvent | { error: string };
    read.events++;
    if (read.completed !== undefined) throw new Error('an event after the completed one');
    if ('error' in event) throw new Error(`url_stream error event after ${read.payloadBytes} bytes: ${event.error}`);
    if ('status' in event) {
      read.completed = event.received;
      continue;
    }
    const bytes = Buffer.from(event.chunk, 'base64');
    read.payloadBytes += bytes.length;
    if (event.received !== read.payloadBytes)
      throw new Error(`an event says received ${event.received}; decoded so far: ${read.payloadBytes}`);
    await onChunk(bytes);
  }
  if (read.completed === undefined) throw new Error(`no completed event after ${read.payloadBytes} bytes`);
  return read;
}
