import { randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The body's period: random bytes repeated. Not a power of two, so the 64 KiB chunks of `url_stream` and the
 * reads of the sockets never line up with it (a chunk sent twice, dropped or out of order shows).
 */
const PERIOD = 1024 * 1024 + 13;
/** Most bytes in one `res.write` (≤ PERIOD, so each is one slice of the doubled pattern). */
const WRITE_BYTES = 256 * 1024;

/** The generated content: byte `i` of every body is `pattern[i % PERIOD]`; twice over, so any slice is one view. */
const doubled = (() => {
  const pattern = randomBytes(PERIOD);
  return Buffer.concat([pattern, pattern]);
})();

/**
 * Checks a body as it arrives against the generated content (memcmp per piece, no copy): `offset` is the bytes
 * checked so far; the first mismatch is kept and stops further checking.
 */
export class ContentCheck {
  offset = 0;
  mismatchAt: number | undefined;

  feed(bytes: Uint8Array): void {
    if (this.mismatchAt !== undefined) {
      this.offset += bytes.byteLength;
      return;
    }
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < buf.length;) {
      const at = this.offset % PERIOD;
      const n = Math.min(buf.length - i, PERIOD);
      const got = buf.subarray(i, i + n);
      const want = doubled.subarray(at, at + n);
      if (!got.equals(want)) {
        let first = 0;
        while (got[first] === want[first]) first++;
        this.mismatchAt = this.offset + first;
        this.offset += buf.length - i;
        return;
      }
      this.offset += n;
      i += n;
    }
  }

  /** Why the body is not the `size` bytes served, or undefined when it is. */
  problem(size: number): string | undefined {
    if (this.mismatchAt !== undefined) return `byte ${this.mismatchAt} differs`;
    if (this.offset !== size) return `${this.offset} bytes of ${size}`;
    return undefined;
  }
}

/** One answer of the file server, as it goes. */
export interface Sending {
  size: number;
  /** Body bytes handed to the socket so far (it keeps at most one write queued: back-pressure respected). */
  sent: number;
  /** Resolves when the response is over: all sent, or the client left. */
  closed: Promise<{ complete: boolean; atMs: number }>;
}

export interface FileServer {
  /** `GET {url}/{size}`: `size` bytes of the generated content, with Content-Length. */
  url: string;
  /** The answers, in order of arrival. */
  sendings: Sending[];
  close(): Promise<void>;
}

/**
 * A file server on 127.0.0.1 streaming the generated content from the one pattern buffer: any size, nothing
 * held per request, each write waiting for `drain`. Counts what each answer sent.
 */
export async function startFileServer(): Promise<FileServer> {
  const sendings: Sending[] = [];
  const server = createServer((req, res) => {
    const size = Number(/^\/(\d+)$/.exec(req.url ?? '')?.[1] ?? NaN);
    if (!Number.isSafeInteger(size)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
    let complete = false;
    const sending: Sending = {
      size,
      sent: 0,
      closed: new Promise((resolve) => res.once('close', () => resolve({ complete, atMs: performance.now() }))),
    };
    sendings.push(sending);
    send(res, sending, () => (complete = true));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    sendings,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, sending: Sending, onComplete: () => void): void {
  const more = () => {
    while (sending.sent < sending.size) {
      if (res.destroyed) return;
      const at = sending.sent % PERIOD;
      const n = Math.min(WRITE_BYTES, sending.size - sending.sent);
      sending.sent += n;
      if (!res.write(doubled.subarray(at, at + n))) {
        res.once('drain', more);
        return;
      }
    }
    onComplete();
    res.end();
  };
  more();
}
