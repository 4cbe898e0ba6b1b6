import { describe, expect, it, vi } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import { checkUrl, parseAllowlist } from './ssrf.ts';

async function refusal(url: string, options?: Parameters<typeof checkUrl>[1]): Promise<AppError> {
  const err = await checkUrl(url, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, url).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('checkUrl refuses', () => {
  it.each([
    // loopback, in every spelling WHATWG URL parsing accepts
    ['http://127.0.0.1/', 'loopback'],
    ['http://127.1/', 'loopback'],
    ['http://2130706433/', 'loopback'],
    ['http://0x7f.1/', 'loopback'],
    ['http://0x7f000001/', 'loopback'],
    ['http://0177.0.0.1/', 'loopback'],
    ['http://017700000001/', 'loopback'],
    ['http://127.0.0.1./', 'loopback'],
    ['http://127.255.255.254:8080/x', 'loopback'],
    ['http://[::1]/', 'loopback'],
    ['http://[0:0:0:0:0:0:0:1]/', 'loopback'],
    ['http://localhost/', 'loopback name'],
    ['http://LOCALHOST./', 'loopback name'],
    ['http://app.localhost:3000/', 'loopback name'],
    // this network, unspecified
    ['http://0.0.0.0/', '"this network"'],
    ['http://0/', '"this network"'],
    ['http://[::]/', 'unspecified'],
    // private, CGNAT, link-local
    ['http://10.0.0.1/', 'private address (10.0.0.0/8)'],
    ['http://172.16.0.1/', 'private address (172.16.0.0/12)'],
    ['http://172.31.255.255/', 'private address (172.16.0.0/12)'],
    ['http://192.168.1.1/', 'private address (192.168.0.0/16)'],
    ['http://0xc0.0xa8.1.1/', 'private address (192.168.0.0/16)'],
    ['http://100.64.0.1/', 'CGNAT'],
    ['http://100.127.255.255/', 'CGNAT'],
    ['http://169.254.1.1/', 'link-local'],
    ['http://[fe80::1]/', 'link-local'],
    // multicast, broadcast, reserved, documentation
    ['http://224.0.0.1/', 'multicast'],
    ['http://239.255.255.250/', 'multicast'],
    ['http://[ff02::1]/', 'multicast'],
    ['http://255.255.255.255/', 'broadcast'],
    ['http://240.0.0.1/', 'reserved'],
    ['http://192.0.0.8/', 'reserved'],
    ['http://192.0.2.1/', 'documentation'],
    ['http://198.18.0.1/', 'benchmarking'],
    ['http://[2001:db8::1]/', 'documentation'],
    ['http://[4000::1]/', 'reserved'],
    // IPv6 unique local, embedded IPv4
    ['http://[fc00::1]/', 'unique local'],
    ['http://[fd12:3456::1]/', 'unique local'],
    ['http://[::ffff:127.0.0.1]/', 'IPv4-mapped address of 127.0.0.1'],
    ['http://[::ffff:7f00:1]/', 'IPv4-mapped address of 127.0.0.1'],
    ['http://[::ffff:10.0.0.1]/', 'IPv4-mapped address of 10.0.0.1'],
    ['http://[::ffff:a9fe:a9fe]/', 'IPv4-mapped address of 169.254.169.254'],
    ['http://[::127.0.0.1]/', 'IPv4-compatible'],
    ['http://[64:ff9b::10.0.0.1]/', 'NAT64 address of 10.0.0.1'],
    ['http://[2002:7f00:1::1]/', '6to4 address of 127.0.0.1'],
    ['http://[2001::1]/', 'Teredo'],
    // cloud metadata
    ['http://169.254.169.254/latest/meta-data/', 'cloud metadata address'],
    ['http://0xa9fea9fe/', 'cloud metadata address'],
    ['http://[fd00:ec2::254]/', 'cloud metadata address'],
    ['http://100.100.100.200/', 'cloud metadata address'],
    ['http://metadata.google.internal/computeMetadata/v1/', 'cloud metadata name'],
  ])('%s (%s)', async (url, why) => {
    const err = await refusal(url);
    expect(err.status).toBe(400);
    expect(err.code).toBe('ssrf_blocked');
    expect(err.message).toContain(why);
    expect(err.message).toMatch(/^http:\/\/\S+ is refused: .*; add it to SSRF_ALLOWLIST to allow it$/);
  });

  it('says which address and why', async () => {
    expect((await refusal('http://10.0.0.1/path?key=secret')).message).toBe(
      'http://10.0.0.1/path is refused: 10.0.0.1 is a private address (10.0.0.0/8); add it to SSRF_ALLOWLIST to allow it',
    );
  });

  it.each([
    'ftp://example.com/',
    'file:///etc/passwd',
    'gopher://example.com/',
    'data:text/plain,x',
    'ws://example.com/',
  ])('the scheme of %s', async (url) => {
    const err = await refusal(url);
    expect(err.code).toBe('ssrf_blocked');
    expect(err.message).toContain('only http: and https: URLs are allowed');
  });

  it('a URL that does not parse', async () => {
    const err = await refusal('http://exa mple.com/');
    expect([err.status, err.code]).toEqual([400, 'invalid_url']);
  });

  it('names that resolve to refused addresses', async () => {
    const resolve = vi.fn(async () => ['93.184.216.34', '10.1.2.3']);
    const err = await refusal('https://intranet.example/', { resolve });
    expect(err.message).toBe(
      'https://intranet.example/ is refused: intranet.example resolves to a private address (10.0.0.0/8); add it to SSRF_ALLOWLIST to allow it',
    );
    expect(resolve).toHaveBeenCalledWith('intranet.example', undefined);
    expect((await refusal('https://x.example/', { resolve: async () => ['::ffff:7f00:1'] })).message).toContain(
      'IPv4-mapped',
    );
  });
});

describe('checkUrl lets through', () => {
  it.each([
    'http://example.com/',
    'https://93.184.216.34/',
    'http://172.32.0.1/',
    'http://100.128.0.1/',
    'http://[2606:4700::1111]/',
    'http://[::ffff:8.8.8.8]/',
    'http://[64:ff9b::8.8.8.8]/',
    'http://localhost.example.com/',
  ])('%s', async (url) => expect((await checkUrl(url)).href).toBe(new URL(url).href));

  it('names that resolve to public addresses', async () => {
    const signal = new AbortController().signal;
    const resolve = vi.fn(async () => ['93.184.216.34', '2606:2800:220:1::']);
    await checkUrl('https://example.com/', { resolve, signal });
    expect(resolve).toHaveBeenCalledWith('example.com', signal);
  });

  it('allow-listed addresses (v4 and v6, exact and CIDR) whatever their spelling', async () => {
    for (const url of ['http://127.0.0.1:8080/', 'http://2130706433/', 'http://0x7f.1/', 'http://[::ffff:127.0.0.1]/'])
      await checkUrl(url, { allowlist: ['127.0.0.1'] });
    await refusal('http://127.0.0.2/', { allowlist: ['127.0.0.1'] });
    await checkUrl('http://10.20.30.40/', { allowlist: ['10.0.0.0/8'] });
    await refusal('http://192.168.0.1/', { allowlist: ['10.0.0.0/8'] });
    await checkUrl('http://[::1]/', { allowlist: ['::1'] });
    await checkUrl('http://[fd00::abcd]/', { allowlist: ['fd00::/8'] });
    await refusal('http://[fc00::1]/', { allowlist: ['fd00::/8'] });
    await checkUrl('https://api.example/', { allowlist: ['10.0.0.0/8'], resolve: async () => ['10.0.0.7'] });
  });

  it('allow-listed host names, without resolving them', async () => {
    const resolve = vi.fn(async () => ['10.0.0.7']);
    await checkUrl('http://api.internal/', { allowlist: ['api.internal'], resolve });
    await checkUrl('http://API.Internal./', { allowlist: ['api.internal'], resolve });
    await checkUrl('http://a.b.corp.example/', { allowlist: ['*.corp.example'], resolve });
    await checkUrl('http://localhost:8080/', { allowlist: ['localhost'] });
    expect(resolve).not.toHaveBeenCalled();
    await refusal('http://corp.example/', { allowlist: ['*.corp.example'], resolve });
    await refusal('http://other.internal/', { allowlist: ['api.internal'], resolve });
  });
});

describe('parseAllowlist', () => {
  it('reads a comma or space list', () => {
    expect(parseAllowlist(' 127.0.0.1, 10.0.0.0/8 API.internal,,[::1] fd00::/8 *.corp.example ')).toEqual([
      '127.0.0.1',
      '10.0.0.0/8',
      'api.internal',
      '::1',
      'fd00::/8',
      '*.corp.example',
    ]);
    expect(parseAllowlist(undefined)).toEqual([]);
    expect(parseAllowlist('')).toEqual([]);
  });

  it.each([
    ['10.0.0.0/33', 'is not a host name, an IP address or a CIDR'],
    ['fd00::/129', 'is not a host name, an IP address or a CIDR'],
    ['300.1.1.1', 'is not a host name, an IP address or a CIDR'],
    ['api.internal:8080', 'is not a host name, an IP address or a CIDR'],
    ['http://api.internal', 'is not a host name, an IP address or a CIDR'],
    ['10.1.0.0/8', 'has bits set past its prefix length'],
    ['127.1', 'looks numeric; write IPv4 addresses in dotted-decimal form'],
    ['2130706433', 'looks numeric; write IPv4 addresses in dotted-decimal form'],
    ['under_score-.example', 'is not a host name'],
  ])('refuses %j', (entry, why) => {
    expect(() => parseAllowlist(`127.0.0.1,${entry}`)).toThrow(`SSRF_ALLOWLIST: "${entry}" ${why}`);
  });
});
