import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve, sep } from 'node:path';

export interface HubServerOptions {
  /** Files in memory, keyed `owner/repo/path/file`. */
  files?: Record<string, Uint8Array>;
  /** A folder laid out as `owner/repo/path/file`, looked up after `files`. */
  dir?: string;
  /** When set, every request must carry `Authorization: Bearer <token>` (else 401). */
  token?: string;
  /**
   * Files are LFS files: `resolve` answers (the redirect, or the file itself without redirect) carry
   * `X-Linked-Size` and `X-Linked-Etag: "<sha256>"`, as the real hub sends them. Default true.
   */
  lfs?: boolean;
}

export interface HubRequest {
  method: string;
  path: string;
  range: string | undefined;
  authorization: string | undefined;
}

export interface HubServer {
  /** Base URL ending with `/`, usable as HF_ENDPOINT. */
  url: string;
  /** Every request received, in order. */
  requests: HubRequest[];
  setFile(key: string, bytes: Uint8Array): void;
  /** Serve these bytes for `key` while its `X-Linked-*` headers still describe the file (a corrupting store); `null` undoes it. */
  setServed(key: string, bytes: Uint8Array | null): void;
  /** Bodies stop after this many bytes and the socket is destroyed; `null` serves whole bodies. */
  setDropAfter(bytes: number | null): void;
  /** Answer ranged requests with the whole file (200), like a server without Range support. */
  setIgnoreRange(ignore: boolean): void;
  /** Answer `resolve` URLs with a 302 to `/cdn/{owner}/{repo}/{file}`, as the real hub does. */
  setRedirect(redirect: boolean): void;
  close(): Promise<void>;
}

type Body = { bytes: Uint8Array; size: number } | { file: string; size: number };

const RESOLVE = /^\/([^/]+)\/([^/]+)\/resolve\/[^/]+\/(.+)$/;
const CDN = /^\/cdn\/(.+)$/;

/**
 * A local stand-in for the Hugging Face hub on 127.0.0.1 (random port): `GET`/`HEAD
 * /{owner}/{repo}/resolve/{revision}/{file}` with single-range support (clipped to the file size, 416 past
 * its end), an optional required token, an optional redirect to `/cdn/…`, a drop mode for resume tests, and
 * a request log.
 */
export async function startHubServer({
  files = {},
  dir,
  token,
  lfs = true,
}: HubServerOptions = {}): Promise<HubServer> {
  const memory = new Map(Object.entries(files));
  const served = new Map<string, Uint8Array>();
  const digests = new Map<string, string>();
  const requests: HubRequest[] = [];
  let dropAfter: number | null = null;
  let ignoreRange = false;
  let redirect = false;

  async function find(key: string): Promise<Body | null> {
    const bytes = served.get(key) ?? memory.get(key);
    if (bytes) return { bytes, size: bytes.byteLength };
    if (!dir) return null;
    const root = resolve(dir);
    const file = resolve(root, key);
    if (!file.startsWith(root + sep)) return null;
    const found = await stat(file).catch(() => null);
    return found?.isFile() ? { file, size: found.size } : null;
  }

  /** `X-Linked-*` headers describing the file at `key` (not what `setServed` substitutes). */
  async function linked(key: string): Promise<Record<string, string>> {
    if (!lfs) return {};
    const bytes = memory.get(key);
    const body = bytes ? { bytes, size: bytes.byteLength } : await find(key);
    if (!body) return {};
    const id = 'bytes' in body ? `memory:${key}` : `${body.file}:${body.size}:${(await stat(body.file)).mtimeMs}`;
    let sha256 = digests.get(id);
    if (!sha256) {
      const hash = createHash('sha256');
      if ('bytes' in body) hash.update(body.bytes);
      else for await (const chunk of createReadStream(body.file)) hash.update(chunk as Buffer);
      digests.set(id, (sha256 = hash.digest('hex')));
    }
    return { 'x-linked-size': String(body.size), 'x-linked-etag': `"${sha256}"` };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://hub').pathname;
    requests.push({
      method: req.method ?? '',
      path,
      range: req.headers.range,
      authorization: req.headers.authorization,
    });
    if (token && req.headers.authorization !== `Bearer ${token}`) return void res.writeHead(401).end('Unauthorized');
    const resolved = RESOLVE.exec(path);
    const key = resolved ? resolved.slice(1).map(decodeURIComponent).join('/') : CDN.exec(path)?.[1];
    const lfsHeaders = resolved && key ? await linked(key) : {};
    if (resolved && redirect) return void res.writeHead(302, { location: `/cdn/${key}`, ...lfsHeaders }).end();
    const body = key && (await find(key));
    if (!body) return void res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end('Entry not found');
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405).end();

    const range = ignoreRange ? null : parseRange(req.headers.range, body.size);
    if (range === 'unsatisfiable') return void res.writeHead(416, { 'content-range': `bytes */${body.size}` }).end();
    const [start, end] = range ?? [0, body.size - 1];
    const headers: Record<string, string | number> = {
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
      'content-length': end - start + 1,
      ...lfsHeaders,
    };
    if (range) headers['content-range'] = `bytes ${start}-${end}/${body.size}`;
    res.writeHead(range ? 206 : 200, headers);
    if (req.method === 'HEAD' || end < start) return void res.end();

    if (dropAfter !== null && dropAfter < end - start + 1) {
      const head = await slice(body, start, start + dropAfter);
      return void res.write(head, () => res.destroy());
    }
    if ('bytes' in body) return void res.end(body.bytes.subarray(start, end + 1));
    createReadStream(body.file, { start, end }).pipe(res);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500).end(err.message);
      else res.destroy();
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    setFile: (key, bytes) => {
      memory.set(key, bytes);
      digests.delete(`memory:${key}`);
    },
    setServed: (key, bytes) => void (bytes ? served.set(key, bytes) : served.delete(key)),
    setDropAfter: (bytes) => void (dropAfter = bytes),
    setIgnoreRange: (ignore) => void (ignoreRange = ignore),
    setRedirect: (on) => void (redirect = on),
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** `[start, end]` (inclusive) of a single `bytes=` range, null for none or one this server does not serve. */
function parseRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | null {
  const match = header && /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return null;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    return suffix === 0 ? 'unsatisfiable' : [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size) return 'unsatisfiable';
  return end < start ? null : [start, end];
}

async function slice(body: Body, start: number, end: number): Promise<Uint8Array> {
  if ('bytes' in body) return body.bytes.subarray(start, end);
  const handle = await open(body.file);
  try {
    const buffer = Buffer.alloc(end - start);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
