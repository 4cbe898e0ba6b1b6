import { hasHostBits, inCidr, parseCidr, unmapIpv4, type Cidr, type IpBytes } from './ip-rules.ts';

/** The operator's exceptions to the SSRF rules (`SSRF_ALLOWLIST`), compiled. */
export interface Allowlist {
  /** Whether the host name (lower case, no trailing dot) is listed, itself or under a `*.` entry. */
  allowsHost(hostname: string): boolean;
  /** Whether the address lies in a listed address or CIDR (IPv4-mapped IPv6 counts as its IPv4 address). */
  allowsAddress(address: IpBytes): boolean;
}

const HOST_NAME = /^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;
const NUMERIC_LABEL = /(^|\.)(0x[0-9a-f]*|\d+)$/;
const DOTTED = /^\d+\.\d+\.\d+\.\d+$/;

/** Lower case, no brackets around IPv6, no trailing dot. */
export function normalizeHost(host: string): string {
  return host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
}

function compileEntry(entry: string): { cidr: Cidr } | { host: string } {
  const text = normalizeHost(entry);
  const bad = (why: string) => new Error(`SSRF_ALLOWLIST: "${entry}" ${why}`);
  if (/[:/]/.test(text) || DOTTED.test(text)) {
    const cidr = parseCidr(text);
    if (!cidr) throw bad('is not a host name, an IP address or a CIDR (e.g. api.internal, 10.0.0.0/8, fd00::/8)');
    if (hasHostBits(cidr)) throw bad('has bits set past its prefix length; write the network address');
    return { cidr };
  }
  if (NUMERIC_LABEL.test(text)) throw bad('looks numeric; write IPv4 addresses in dotted-decimal form (127.0.0.1)');
  if (!HOST_NAME.test(text)) throw bad('is not a host name, an IP address or a CIDR (e.g. api.internal, 10.0.0.0/8)');
  return { host: text };
}

/** Compiles allow-list entries: host names (`api.internal`, `*.corp.example`), IP addresses and CIDRs; throws on a bad one. */
export function compileAllowlist(entries: readonly string[]): Allowlist {
  const cidrs: Cidr[] = [];
  const hosts = new Set<string>();
  const suffixes: string[] = [];
  for (const entry of entries) {
    const compiled = compileEntry(entry);
    if ('cidr' in compiled) cidrs.push(compiled.cidr);
    else if (compiled.host.startsWith('*.')) suffixes.push(compiled.host.slice(1));
    else hosts.add(compiled.host);
  }
  return {
    allowsHost: (hostname) => hosts.has(hostname) || suffixes.some((suffix) => hostname.endsWith(suffix)),
    allowsAddress: (address) => {
      const plain = unmapIpv4(address);
      return cidrs.some((cidr) => inCidr(plain, cidr) || inCidr(address, cidr));
    },
  };
}

/**
 * Reads `SSRF_ALLOWLIST` (comma- or space-separated host names, `*.suffix` names, IP addresses, CIDRs) into
 * normalised entries; throws an Error naming the bad entry, so start-up fails clearly. Empty or unset: `[]`.
 */
export function parseAllowlist(value: string | undefined): string[] {
  const entries = (value ?? '').split(/[\s,]+/).filter(Boolean);
  compileAllowlist(entries);
  return entries.map(normalizeHost);
}
