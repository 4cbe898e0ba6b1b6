/** An IP address as bytes: 4 for IPv4, 16 for IPv6. */
export type IpBytes = Uint8Array;

/** An address range: `bytes` with their first `prefix` bits significant. */
export interface Cidr {
  bytes: IpBytes;
  prefix: number;
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseIpv4(text: string): IpBytes | undefined {
  const parts = V4.exec(text)?.slice(1);
  if (!parts || parts.some((p) => Number(p) > 255 || (p.length > 1 && p.startsWith('0')))) return undefined;
  return Uint8Array.from(parts, Number);
}

function parseGroups(text: string): number[] | undefined {
  if (text === '') return [];
  const groups: number[] = [];
  const parts = text.split(':');
  for (const [i, part] of parts.entries()) {
    if (i === parts.length - 1 && part.includes('.')) {
      const v4 = parseIpv4(part);
      if (!v4) return undefined;
      groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    } else if (/^[0-9a-f]{1,4}$/i.test(part)) groups.push(parseInt(part, 16));
    else return undefined;
  }
  return groups;
}

function parseIpv6(text: string): IpBytes | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...Array<number>(missing).fill(0), ...tail];
  return Uint8Array.from(groups.flatMap((g) => [g >> 8, g & 0xff]));
}

/**
 * Parses an IP literal: dotted-decimal IPv4 (`127.0.0.1`; no other spelling, since WHATWG URL parsing already
 * rewrites `0x7f.1`, `2130706433` and the like to it) or IPv6, bracketed or not, with or without a zone id.
 */
export function parseIp(text: string): IpBytes | undefined {
  const bare = text.replace(/^\[(.*)\]$/, '$1');
  return bare.includes(':') ? parseIpv6(bare.replace(/%.*$/, '')) : parseIpv4(bare);
}

/** `10.0.0.0/8`, `fc00::/7`, or a single address (full-length prefix). Undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const [address, prefixText, extra] = text.split('/');
  const bytes = parseIp(address!);
  if (!bytes || extra !== undefined) return undefined;
  const max = bytes.length * 8;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  return prefix >= 0 && prefix <= max ? { bytes, prefix } : undefined;
}

/** Whether `address` lies in `cidr` (an IPv4 address never lies in an IPv6 range, nor the reverse). */
export function inCidr(address: IpBytes, { bytes, prefix }: Cidr): boolean {
  if (address.length !== bytes.length) return false;
  const whole = prefix >> 3;
  for (let i = 0; i < whole; i++) if (address[i] !== bytes[i]) return false;
  const rest = prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (address[whole]! & mask) === (bytes[whole]! & mask);
}

/** Whether bits past the prefix are set (`10.1.0.0/8`): a CIDR probably written by mistake. */
export function hasHostBits({ bytes, prefix }: Cidr): boolean {
  return bytes.some((byte, i) => (byte & (0xff >> Math.min(8, Math.max(0, prefix - i * 8)))) !== 0);
}

/** Dotted-decimal text of IPv4 bytes. */
export function formatIpv4(bytes: IpBytes): string {
  return bytes.join('.');
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`), else the address itself. */
export function unmapIpv4(address: IpBytes): IpBytes {
  return address.length === 16 && inCidr(address, MAPPED) ? address.slice(12) : address;
}

const range = (text: string, what: string) => ({ text, what, cidr: parseCidr(text)! });
const MAPPED = parseCidr('::ffff:0:0/96')!;

/** Refused ranges, most specific first: the first match names the reason. */
const REFUSED = [
  range('169.254.169.254/32', 'a cloud metadata address'),
  range('100.100.100.200/32', 'a cloud metadata address'),
  range('fd00:ec2::254/128', 'a cloud metadata address'),
  range('255.255.255.255/32', 'the broadcast address'),
  range('0.0.0.0/8', 'a "this network" address'),
  range('10.0.0.0/8', 'a private address'),
  range('100.64.0.0/10', 'a shared (CGNAT) address'),
  range('127.0.0.0/8', 'a loopback address'),
  range('169.254.0.0/16', 'a link-local address'),
  range('172.16.0.0/12', 'a private address'),
  range('192.0.0.0/24', 'a reserved (IETF protocol) address'),
  range('192.0.2.0/24', 'a documentation address'),
  range('192.88.99.0/24', 'a reserved (6to4 relay) address'),
  range('192.168.0.0/16', 'a private address'),
  range('198.18.0.0/15', 'a benchmarking address'),
  range('198.51.100.0/24', 'a documentation address'),
  range('203.0.113.0/24', 'a documentation address'),
  range('224.0.0.0/4', 'a multicast address'),
  range('240.0.0.0/4', 'a reserved address'),
  range('::/128', 'the unspecified address'),
  range('::1/128', 'the loopback address'),
  range('::/96', 'a deprecated IPv4-compatible address'),
  range('64:ff9b:1::/48', 'a local-use NAT64 address'),
  range('100::/64', 'a discard-only address'),
  range('2001::/32', 'a Teredo address'),
  range('2001:db8::/32', 'a documentation address'),
  range('3fff::/20', 'a documentation address'),
  range('fc00::/7', 'a unique local address'),
  range('fe80::/10', 'a link-local address'),
  range('fec0::/10', 'a site-local address'),
  range('ff00::/8', 'a multicast address'),
];
/** IPv6 ranges that embed an IPv4 address: judged by that address. */
const EMBEDDING = [
  { ...range('::ffff:0:0/96', 'an IPv4-mapped address'), offset: 12 },
  { ...range('64:ff9b::/96', 'a NAT64 address'), offset: 12 },
  { ...range('2002::/16', 'a 6to4 address'), offset: 2 },
];
const GLOBAL_UNICAST = parseCidr('2000::/3')!;

/**
 * Why an outbound call must not reach `address`, as a phrase that follows "X is" (e.g. `a private address
 * (10.0.0.0/8)`), or undefined when the address is public. IPv6 addresses that embed an IPv4 address
 * (mapped, NAT64, 6to4) are judged by the embedded one; IPv6 outside 2000::/3 is refused as reserved.
 */
export function addressRefusal(address: IpBytes): string | undefined {
  for (const { cidr, what, text, offset } of EMBEDDING) {
    if (!inCidr(address, cidr)) continue;
    const v4 = address.slice(offset, offset + 4);
    const inner = addressRefusal(v4);
    return inner && `${what} of ${formatIpv4(v4)} (${text}), ${inner}`;
  }
  const hit = REFUSED.find(({ cidr }) => inCidr(address, cidr));
  if (hit) return `${hit.what} (${hit.text})`;
  if (address.length === 16 && !inCidr(address, GLOBAL_UNICAST)) return 'a reserved address (outside 2000::/3)';
  return undefined;
}

const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data']);

/** Why a host name (not an IP literal; lower case, no trailing dot) is refused by name, or undefined. */
export function hostRefusal(hostname: string): string | undefined {
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) return 'a loopback name (localhost)';
  if (METADATA_NAMES.has(hostname)) return 'a cloud metadata name';
  return undefined;
}
