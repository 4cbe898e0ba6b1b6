import { AppError } from '../../shared/errors.ts';
import { compileAllowlist, normalizeHost, parseAllowlist, type Allowlist } from './allowlist.ts';
import { capBody, readTextCapped } from './capped-body.ts';
import { addressRefusal, hostRefusal, parseIp } from './ip-rules.ts';

export { parseAllowlist, readTextCapped };

export interface GuardedFetchInit extends RequestInit {
  /** Whole-call limit in ms (DNS, redirects, headers and body); default the guard's (30 s). 0: none (long-lived streams). */
  timeoutMs?: number;
  /**
   * Body bytes allowed (as decoded, so a gzip bomb is caught); past it the body stream errors with
   * `AppError(502, …, { code: 'response_too_large' })`. Default the guard's (10 MB). 0: none.
   */
  maxBytes?: number;
}

/** fetch for user-supplied URLs: every URL and redirect checked against the SSRF rules. */
export type GuardedFetch = (input: string | URL, init?: GuardedFetchInit) => Promise<Response>;

/** Turns a host name into its addresses (a DNS lookup); may throw when the name does not resolve. */
export type ResolveHost = (hostname: string, signal?: AbortSignal) => Promise<string[]>;

export interface SsrfGuardOptions {
  /** Hosts, IP addresses and CIDRs let through although refused by the rules (`SSRF_ALLOWLIST`, see `parseAllowlist`). */
  allowlist?: readonly string[];
  /**
   * DNS lookup of host names, whose addresses are then checked too; the Node entry injects it (edge code
   * cannot import `node:dns`). Without it only IP literals and names such as `localhost` are checked: on
   * Cloudflare Workers that is enough, since the platform's fetch cannot reach private networks. Checking
   * before connecting does not stop DNS rebinding: on Node also pass a `fetch` that checks at connect time
   * (`guardedNodeFetch` in `runner/net/guarded-dispatcher.ts`).
   */
  resolve?: ResolveHost;
  /** The fetch that does the calls; default the global one. It is always called with `redirect: 'manual'`. */
  fetch?: typeof fetch;
  /** Default whole-call limit in ms, 30 000. */
  timeoutMs?: number;
  /** Default body limit in bytes, 10 MB. */
  maxBytes?: number;
  /** Redirects followed (each one checked), default 5. */
  maxRedirects?: number;
}

export interface CheckUrlOptions {
  allowlist?: readonly string[];
  resolve?: ResolveHost;
  signal?: AbortSignal;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Headers kept when a redirect leaves the origin; every other one (credentials of any name) is dropped. */
const CROSS_ORIGIN_HEADERS = new Set([
  'accept',
  'accept-encoding',
  'accept-language',
  'cache-control',
  'content-language',
  'content-type',
  'user-agent',
]);
const BODY_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location'];

/** A URL for messages: no credentials, query or fragment (they may hold keys). */
function describe(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

function refused(url: URL, reason: string, hint = true): AppError {
  const allow = hint ? '; add it to SSRF_ALLOWLIST to allow it' : '';
  return new AppError(400, `${describe(url)} is refused: ${reason}${allow}`, { code: 'ssrf_blocked' });
}

function parseUrl(input: string | URL): URL {
  try {
    return new URL(input);
  } catch {
    throw new AppError(400, `"${String(input).slice(0, 200)}" is not a valid URL`, { code: 'invalid_url' });
  }
}

async function check(url: URL, allow: Allowlist, resolve?: ResolveHost, signal?: AbortSignal): Promise<URL> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw refused(url, 'only http: and https: URLs are allowed', false);
  if (url.username || url.password)
    throw refused(url, 'a URL may not carry credentials (user:password@): send them in headers', false);
  const host = normalizeHost(url.hostname);
  if (allow.allowsHost(host)) return url;
  const literal = parseIp(host);
  if (literal) {
    const why = addressRefusal(literal);
    if (why && !allow.allowsAddress(literal)) throw refused(url, `${host} is ${why}`);
    return url;
  }
  const byName = hostRefusal(host);
  if (byName) throw refused(url, `${host} is ${byName}`);
  for (const address of resolve ? await resolve(host, signal) : []) {
    const bytes = parseIp(address);
    const why = bytes ? addressRefusal(bytes) : 'an address that is not an IP address';
    if (why && !(bytes && allow.allowsAddress(bytes))) throw refused(url, `${host} resolves to ${why}`);
  }
  return url;
}

/**
 * Checks a user-supplied URL against the SSRF rules (see `addressRefusal`, `hostRefusal` in `ip-rules.ts`):
 * http/https only; no loopback, private, link-local, CGNAT, multicast, reserved or cloud metadata address,
 * as a literal or (with `resolve`) as what the name resolves to; allow-listed hosts and addresses pass.
 * Throws `AppError(400, "<url> is refused: <why>…", { code: 'ssrf_blocked' })`.
 */
export async function checkUrl(url: string | URL, options: CheckUrlOptions = {}): Promise<URL> {
  return check(parseUrl(url), compileAllowlist(options.allowlist ?? []), options.resolve, options.signal);
}

function parseLocation(location: string, base: URL): URL | undefined {
  try {
    return new URL(location, base);
  } catch {
    return undefined;
  }
}

/**
 * A network failure as a 502 that names the URL without its query (undici's messages quote whole URLs,
 * which may hold keys) and keeps the failure's code (`ECONNREFUSED`, `ENOTFOUND`…).
 */
function unreachable(url: URL, err: unknown): AppError {
  let code: string | undefined;
  let e: unknown = err;
  for (let depth = 0; typeof e === 'object' && e !== null && depth < 4 && !code; depth++) {
    const { code: found, cause, errors } = e as { code?: unknown; cause?: unknown; errors?: unknown[] };
    if (typeof found === 'string') code = found;
    e = cause ?? errors?.[0];
  }
  const why = code ?? (err instanceof Error ? err.message.replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<url>') : 'failed');
  return new AppError(502, `${describe(url)} could not be reached (${why})`, {
    code: 'upstream_unreachable',
    cause: err,
  });
}

/** The AppError (an SSRF refusal at connect time) that a fetch failure wraps, if any. */
function appErrorIn(err: unknown): AppError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++)
    if (e instanceof AppError) return e;
  return undefined;
}

/**
 * The one fetch for user-supplied URLs. Each URL and each redirect target is checked (`checkUrl`);
 * redirects are followed here, at most `maxRedirects`, 303 (and 301/302 after POST) turning into GET;
 * a redirect to another origin drops every header but a few content-negotiation ones (`authorization`,
 * `cookie`, API keys of any name). `init.timeoutMs` bounds the whole call, body included
 * (`AppError(504, …, { code: 'upstream_timeout' })`), together with `init.signal` (whose abort rejects with
 * its own reason); `init.maxBytes` bounds the body (`response_too_large`, 502). `redirect: 'manual'`
 * returns the 3xx itself; `'error'` fails on one (`upstream_redirect`, 502). Too many redirects:
 * `too_many_redirects` (502). The response's `url` is the last URL fetched.
 */
export function createGuardedFetch(options: SsrfGuardOptions = {}): GuardedFetch {
  const allow = compileAllowlist(options.allowlist ?? []);
  const { resolve, maxRedirects = 5 } = options;
  const inner = options.fetch ?? ((input, init) => fetch(input, init));
  const defaults = { timeoutMs: options.timeoutMs ?? 30_000, maxBytes: options.maxBytes ?? 10 * 1024 * 1024 };

  return async (input, init = {}) => {
    const { timeoutMs = defaults.timeoutMs, maxBytes = defaults.maxBytes, signal: callerSignal, ...rest } = init;
    const first = parseUrl(input);
    const deadline = new AbortController();
    const signal = callerSignal ? AbortSignal.any([callerSignal, deadline.signal]) : deadline.signal;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            const message = `no complete answer from ${describe(first)} within ${timeoutMs} ms`;
            deadline.abort(new AppError(504, message, { code: 'upstream_timeout' }));
          }, timeoutMs)
        : undefined;
    const settle = () => timer !== undefined && clearTimeout(timer);
    const mapError = (err: unknown) => {
      if (deadline.signal.aborted) return deadline.signal.reason;
      if (callerSignal?.aborted) return err;
      return appErrorIn(err) ?? unreachable(first, err);
    };

    let url = first;
    let method = (rest.method ?? 'GET').toUpperCase();
    let body = rest.body;
    const headers = new Headers(rest.headers);
    try {
      for (let hops = 0; ; hops++) {
        await check(url, allow, resolve, signal);
        const response = await inner(url, { ...rest, method, headers, body, signal, redirect: 'manual' });
        const location = REDIRECTS.has(response.status) ? response.headers.get('location') : null;
        if (location === null || rest.redirect === 'manual') return wrap(response, url, { maxBytes, settle, mapError });
        await response.body?.cancel();
        const fail = (message: string, code: string) => new AppError(502, `${describe(url)} ${message}`, { code });
        if (rest.redirect === 'error')
          throw fail(`redirected (${response.status}) and redirect is "error"`, 'upstream_redirect');
        if (hops >= maxRedirects) throw fail(`redirected more than ${maxRedirects} times`, 'too_many_redirects');
        const next = parseLocation(location, url);
        if (!next) throw fail(`redirected to an invalid URL "${location.slice(0, 200)}"`, 'upstream_redirect');
        const status = response.status;
        if ((status === 303 && method !== 'HEAD') || (status <= 302 && method === 'POST')) {
          method = 'GET';
          body = null;
          for (const name of BODY_HEADERS) headers.delete(name);
        } else if (body instanceof ReadableStream) {
          throw fail(`redirected (${status}) and a streamed body cannot be sent again`, 'upstream_redirect');
        }
        if (next.origin !== url.origin)
          for (const name of [...headers.keys()]) if (!CROSS_ORIGIN_HEADERS.has(name)) headers.delete(name);
        url = next;
      }
    } catch (err) {
      settle();
      throw mapError(err);
    }
  };
}

interface WrapOptions {
  maxBytes: number;
  settle: () => void;
  mapError: (err: unknown) => unknown;
}

function wrap(response: Response, url: URL, { maxBytes, settle, mapError }: WrapOptions): Response {
  if (!response.body) settle();
  const body = response.body && capBody(response.body, { maxBytes, source: describe(url), onSettle: settle, mapError });
  const { status, statusText, headers } = response;
  const wrapped = new Response(body, { status, statusText, headers });
  Object.defineProperty(wrapped, 'url', { value: url.href });
  return wrapped;
}
