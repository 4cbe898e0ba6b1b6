import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressRefusal, hasHostBits, hostRefusal, inCidr, parseCidr, parseIp } from './ip-rules.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('parseIp', () => {
  it.each([
    ['127.0.0.1', '7f000001'],
    ['::1', '00000000000000000000000000000001'],
    ['[::ffff:7f00:1]', '00000000000000000000ffff7f000001'],
    ['::ffff:127.0.0.1', '00000000000000000000ffff7f000001'],
    ['fe80::1%eth0', 'fe800000000000000000000000000001'],
    ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
    ['1::', '00010000000000000000000000000000'],
    ['::', '00000000000000000000000000000000'],
  ])('%s', (text, bytes) => expect(hex(parseIp(text)!)).toBe(bytes));

  it.each([
    '127.1',
    '0x7f.0.0.1',
    '256.0.0.1',
    '01.2.3.4',
    '1.2.3',
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    ':::',
    'g::1',
    'example.com',
    '',
  ])('refuses %j', (text) => expect(parseIp(text)).toBeUndefined());

  it('reads every IPv6 address as WHATWG URL serialises it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
        const { hostname } = new URL(`http://[${groups.join(':')}]/`);
        expect(hex(parseIp(hostname)!)).toBe(hex(bytes));
      }),
    );
  });

  it('reads every IPv4 address as WHATWG URL serialises its integer spelling', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (n) => {
        const { hostname } = new URL(`http://${n}/`);
        expect(hex(parseIp(hostname)!)).toBe(n.toString(16).padStart(8, '0'));
      }),
    );
  });
});

describe('CIDRs', () => {
  it('parses and matches', () => {
    const net = parseCidr('172.16.0.0/12')!;
    expect(inCidr(parseIp('172.31.255.255')!, net)).toBe(true);
    expect(inCidr(parseIp('172.32.0.0')!, net)).toBe(false);
    expect(inCidr(parseIp('::ffff:172.16.0.1')!, net)).toBe(false);
    expect(inCidr(parseIp('fd00::1')!, parseCidr('fc00::/7')!)).toBe(true);
    expect(inCidr(parseIp('fe00::1')!, parseCidr('fc00::/7')!)).toBe(false);
    expect(parseCidr('10.0.0.1')).toEqual({ bytes: parseIp('10.0.0.1'), prefix: 32 });
    expect(inCidr(parseIp('8.8.8.8')!, parseCidr('0.0.0.0/0')!)).toBe(true);
  });

  it.each(['10.0.0.0/33', '10.0.0.0/', '10.0.0.0/8/8', '::/129', '10.0.0.0/-1', 'x/8'])('refuses %j', (text) =>
    expect(parseCidr(text)).toBeUndefined(),
  );

  it('spots host bits', () => {
    expect(hasHostBits(parseCidr('10.1.0.0/8')!)).toBe(true);
    expect(hasHostBits(parseCidr('10.0.0.0/8')!)).toBe(false);
    expect(hasHostBits(parseCidr('10.0.0.128/25')!)).toBe(false);
    expect(hasHostBits(parseCidr('10.0.0.64/25')!)).toBe(true);
    expect(hasHostBits(parseCidr('fd00::/8')!)).toBe(false);
    expect(hasHostBits(parseCidr('fd00::1/8')!)).toBe(true);
  });
});

describe('addressRefusal', () => {
  it.each([
    ['10.0.0.1', 'a private address (10.0.0.0/8)'],
    ['127.0.0.1', 'a loopback address (127.0.0.0/8)'],
    ['169.254.169.254', 'a cloud metadata address (169.254.169.254/32)'],
    ['100.100.100.200', 'a cloud metadata address (100.100.100.200/32)'],
    ['fd00:ec2::254', 'a cloud metadata address (fd00:ec2::254/128)'],
    ['100.64.0.1', 'a shared (CGNAT) address (100.64.0.0/10)'],
    ['255.255.255.255', 'the broadcast address (255.255.255.255/32)'],
    ['::', 'the unspecified address (::/128)'],
    ['fe80::1', 'a link-local address (fe80::/10)'],
    ['fc00::1', 'a unique local address (fc00::/7)'],
    ['::ffff:7f00:1', 'an IPv4-mapped address of 127.0.0.1 (::ffff:0:0/96), a loopback address (127.0.0.0/8)'],
    ['64:ff9b::a00:1', 'a NAT64 address of 10.0.0.1 (64:ff9b::/96), a private address (10.0.0.0/8)'],
    ['2002:c0a8:101::1', 'a 6to4 address of 192.168.1.1 (2002::/16), a private address (192.168.0.0/16)'],
    ['3fff::1', 'a documentation address (3fff::/20)'],
    ['4000::1', 'a reserved address (outside 2000::/3)'],
  ])('%s is %s', (address, why) => expect(addressRefusal(parseIp(address)!)).toBe(why));

  it.each([
    '8.8.8.8',
    '172.32.0.1',
    '100.128.0.1',
    '2606:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::8.8.8.8',
    '2002:808:808::1',
  ])('lets %s through', (address) => expect(addressRefusal(parseIp(address)!)).toBeUndefined());
});

describe('hostRefusal', () => {
  it.each(['localhost', 'app.localhost', 'metadata.google.internal'])('refuses %s', (host) =>
    expect(hostRefusal(host)).toBeDefined(),
  );
  it.each(['example.com', 'localhost.example.com', 'notlocalhost'])('lets %s through', (host) =>
    expect(hostRefusal(host)).toBeUndefined(),
  );
});
