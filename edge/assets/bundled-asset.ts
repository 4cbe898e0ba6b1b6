import type { Context } from 'hono';
import { AppError } from '../../shared/errors.ts';
import type { AppEnv } from '../env.ts';

/** A bundled file as the runtime can give it: its bytes or text (Node reads node_modules), or a response (Workers' ASSETS). */
export type AssetBody = Response | string | ArrayBuffer | Uint8Array;

type Bytes = Uint8Array<ArrayBuffer>;

export interface BundledAssetOptions {
  contentType: string;
  cacheControl: string;
  /** For the 503 when it cannot be loaded, e.g. "Plotly's bundle". */
  what: string;
}

/**
 * A handler serving a large static file from an injected loader: the bytes kept after the first load (a failed
 * load is retried on the next request) and gzipped once when the browser accepts it; a Workers ASSETS response
 * streams through as it is (the platform compresses and sets the ETag). Unavailable: a 503 naming the copy script.
 */
export function serveBundledAsset(
  load: () => Promise<AssetBody>,
  { contentType, cacheControl, what }: BundledAssetOptions,
) {
  let gzipped: Promise<Bytes> | undefined;
  let bytes: Promise<Bytes | Response> | undefined;
  const unavailable = (why: string) =>
    new AppError(503, `${what} is unavailable (${why}); on Workers run \`tsx scripts/edge-assets.ts\``, {
      code: 'asset_unavailable',
    });
  const read = () =>
    (bytes ??= load()
      .then((body) => (body instanceof Response ? body : toBytes(body)))
      .then((b) => {
        if (b instanceof Response) bytes = undefined; // a response's body reads once
        return b;
      })
      .catch((err: unknown) => {
        bytes = undefined;
        throw err;
      }));

  return async (c: Context<AppEnv>): Promise<Response> => {
    const body = await read().catch((err: unknown) => {
      throw unavailable(String((err as Error)?.message ?? err));
    });
    const headers: Record<string, string> = {
      'Content-Type': contentType,
      'Cache-Control': cacheControl,
      'X-Content-Type-Options': 'nosniff',
    };
    if (body instanceof Response) {
      if (!body.ok) throw unavailable(`the asset store answered ${body.status}`);
      const etag = body.headers.get('etag');
      return new Response(body.body, { headers: { ...headers, ...(etag ? { ETag: etag } : {}) } });
    }
    headers.Vary = 'Accept-Encoding';
    if (/\bgzip\b/i.test(c.req.header('accept-encoding') ?? '')) {
      gzipped ??= gzip(body).catch((err: unknown) => {
        gzipped = undefined;
        throw err;
      });
      return c.body(await gzipped, 200, { ...headers, 'Content-Encoding': 'gzip' });
    }
    return c.body(body, 200, headers);
  };
}

function toBytes(body: string | ArrayBuffer | Uint8Array): Bytes {
  if (typeof body === 'string') return new TextEncoder().encode(body) as Bytes;
  if (!(body instanceof Uint8Array)) return new Uint8Array(body);
  return body.buffer instanceof ArrayBuffer ? (body as Bytes) : (body.slice() as Bytes);
}

/** Compressed once per process (4.8 MB of Plotly is about 1.4 MB gzipped: phones on a LAN). */
async function gzip(bytes: Bytes): Promise<Bytes> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
