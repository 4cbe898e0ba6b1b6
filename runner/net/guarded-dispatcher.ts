import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { lookup as lookupAll } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';
import { AppError } from '../../shared/errors.ts';
import { compileAllowlist, normalizeHost, type Allowlist } from '../../edge/net/allowlist.ts';
import { addressRefusal, parseIp } from '../../edge/net/ip-rules.ts';

function refusal(hostname: string, address: string, allow: Allowlist): AppError | undefined {
  const bytes = parseIp(address);
  const why = bytes ? addressRefusal(bytes) : 'an address that is not an IP address';
  if (!why || (bytes && allow.allowsAddress(bytes))) return undefined;
  const what = hostname === address ? `it is ${why}` : `it resolves to ${why}`;
  const message = `connecting to ${hostname} is refused: ${what}; add it to SSRF_ALLOWLIST to allow it`;
  return new AppError(400, message, { code: 'ssrf_blocked' });
}

/**
 * A `lookup` for `net.connect` that refuses (with `AppError(400, …, { code: 'ssrf_blocked' })`) a host name
 * resolving to any address the SSRF rules refuse, unless the name or address is allow-listed. Checking at
 * connect time, on the addresses actually connected to, is what defeats DNS rebinding.
 */
export function guardedLookup(allowlist: readonly string[], lookup: LookupFunction = dnsLookup): LookupFunction {
  const allow = compileAllowlist(allowlist);
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (err, found) => {
      if (err) return callback(err, '');
      const addresses = found as LookupAddress[];
      if (!allow.allowsHost(normalizeHost(hostname))) {
        const blocked = addresses.map(({ address }) => refusal(hostname, address, allow)).find(Boolean);
        if (blocked) return callback(blocked, '');
      }
      if (options.all) return callback(null, addresses);
      const [first] = addresses;
      if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '');
      callback(null, first.address, first.family);
    });
  };
}

export interface GuardedNodeFetchOptions {
  /** The DNS lookup behind the check (tests inject one); default `dns.lookup`. */
  lookup?: LookupFunction;
}

/**
 * A `fetch` on an undici `Agent` whose connections refuse forbidden addresses at connect time: IP literals
 * directly, host names through `guardedLookup`. Give it to `createGuardedFetch({ fetch })`, which adds the
 * URL, redirect, time and size checks.
 */
export function guardedNodeFetch(allowlist: readonly string[], { lookup }: GuardedNodeFetchOptions = {}): typeof fetch {
  const allow = compileAllowlist(allowlist);
  const connector = buildConnector({ lookup: guardedLookup(allowlist, lookup) });
  const agent = new Agent({
    connect: (options, callback) => {
      const host = normalizeHost(options.hostname);
      const blocked = isIP(host) && !allow.allowsHost(host) ? refusal(host, host, allow) : undefined;
      if (blocked) return callback(blocked, null);
      connector(options, callback);
    },
  });
  return ((input: string | URL, init?: RequestInit) =>
    undiciFetch(input, { ...init, dispatcher: agent } as Parameters<typeof undiciFetch>[1])) as unknown as typeof fetch;
}

/**
 * All addresses of a host name (`dns.lookup`, so /etc/hosts counts), for `createGuardedFetch({ resolve })`.
 * A name that does not resolve: `AppError(502, …, { code: 'upstream_unreachable' })`; an abort rejects with
 * the signal's reason.
 */
export async function resolveHost(hostname: string, signal?: AbortSignal): Promise<string[]> {
  signal?.throwIfAborted();
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const found = await Promise.race([lookupAll(hostname, { all: true }), aborted]);
    return found.map(({ address }) => address);
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new AppError(502, `could not resolve ${hostname} (${code})`, { code: 'upstream_unreachable', cause: err });
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
