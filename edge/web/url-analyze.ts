import type { GuardedFetch } from '../net/ssrf.ts';
import { targetUrl } from './upstream.ts';

/** What `url_analyze` answers (the document's shape). */
export interface UrlAnalysis {
  /** The final URL, after redirects. */
  url: string;
  /** Host name of the final URL. */
  domain: string;
  /** Path of the final URL (no query). */
  path: string;
  /** The Content-Type header as sent; '' when the server sent none. */
  content_type: string;
  /** Size of the resource in bytes; null when the server does not tell. */
  size: number | null;
  /** The response headers, lower-case names (repeated ones joined by ', '). */
  headers: Record<string, string>;
  /** The HTTP status of the resource. */
  status: number;
}

export interface AnalyzeOptions {
  /** The SSRF guard: every request and redirect goes through it. */
  fetch: GuardedFetch;
  signal?: AbortSignal;
}

/** Uncompressed answers, so that Content-Length is the size of the resource itself. */
const IDENTITY = { 'accept-encoding': 'identity' };

function contentLength(headers: Headers): number | null {
  const value = headers.get('content-length')?.trim();
  return value && /^\d+$/.test(value) ? Number(value) : null;
}

/** The complete length from `Content-Range: bytes 0-0/1234` (or `bytes *\/1234`); null for `/*`. */
function rangeTotal(headers: Headers): number | null {
  const match = /\/\s*(\d+)\s*$/.exec(headers.get('content-range') ?? '');
  return match ? Number(match[1]) : null;
}

function plainHeaders(headers: Headers): Record<string, string> {
  const plain: Record<string, string> = {};
  for (const [name, value] of headers) plain[name] = name in plain ? `${plain[name]}, ${value}` : value;
  return plain;
}

function analysis(response: Response, size: number | null, status = response.status): UrlAnalysis {
  const final = new URL(response.url);
  return {
    url: final.href,
    domain: final.hostname,
    path: final.pathname,
    content_type: response.headers.get('content-type') ?? '',
    size,
    headers: plainHeaders(response.headers),
    status,
  };
}

/** A 206 (or 416) answer to the one-byte probe, described as the full GET would be. */
function asFullGet(probe: Response, size: number | null): UrlAnalysis {
  const result = analysis(probe, size, 200);
  delete result.headers['content-range'];
  if (size === null) delete result.headers['content-length'];
  else result.headers['content-length'] = String(size);
  return result;
}

/**
 * Describes a URL without downloading it. A HEAD first; when the server refuses HEAD (405, 501 or any
 * other error status) or does not give a length, a GET of one byte (`Range: bytes=0-0`) whose
 * `Content-Range` total is the size (or its Content-Length, when the server ignores the range), its body
 * cancelled at once. A HEAD that worked describes the resource (the ranged GET only adds the size); when
 * only the ranged GET worked it is described as the full GET would be: 206 reads as 200, and the headers
 * carry the total as `content-length` and no `content-range`.
 * Throws `invalidField('url', …)` (400) for a URL that does not parse, and the guard's errors (400
 * `ssrf_blocked`, 502 `upstream_unreachable`, 504 `upstream_timeout`).
 */
export async function analyzeUrl(url: string, { fetch, signal }: AnalyzeOptions): Promise<UrlAnalysis> {
  const target = targetUrl(url);
  const head = await fetch(target, { method: 'HEAD', headers: IDENTITY, signal });
  await head.body?.cancel().catch(() => {});
  const headWorked = head.status < 400;
  const headSize = headWorked ? contentLength(head.headers) : null;
  if (headWorked && headSize !== null) return analysis(head, headSize);

  const probe = await fetch(target, { headers: { ...IDENTITY, range: 'bytes=0-0' }, signal });
  await probe.body?.cancel().catch(() => {});
  const ranged = probe.status === 206 || (probe.status === 416 && rangeTotal(probe.headers) !== null);
  if (headWorked) {
    const size = ranged ? rangeTotal(probe.headers) : probe.status < 400 ? contentLength(probe.headers) : null;
    const result = analysis(head, size);
    if (!result.content_type && probe.status < 400) result.content_type = probe.headers.get('content-type') ?? '';
    return result;
  }
  return ranged ? asFullGet(probe, rangeTotal(probe.headers)) : analysis(probe, contentLength(probe.headers));
}
