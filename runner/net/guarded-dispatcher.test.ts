import type { LookupAddress } from 'node:dns';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import { createGuardedFetch } from '../../edge/net/ssrf.ts';
import { guardedLookup, guardedNodeFetch, resolveHost } from './guarded-dispatcher.ts';

/** A DNS stand-in: each name resolves to what the table says. */
function fakeLookup(table: Record<string, string[]>): LookupFunction {
  return (hostname, _options, callback) => {
    const found = table[hostname];
    if (!found)
      return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '');
    callback(
      null,
      found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );
  };
}

function lookupOnce(lookup: LookupFunction, hostname: string, all: boolean) {
  return new Promise<{ err: unknown; address: unknown; family?: number }>((resolve) =>
    lookup(hostname, { all }, (err, address, family) => resolve({ err, address, family })),
  );
}

const table = {
  'rebind.test': ['127.0.0.1'],
  'mixed.test': ['93.184.216.34', '10.0.0.9'],
  'public.test': ['93.184.216.34', '2606:2800:220:1::'],
};

describe('guardedLookup', () => {
  it('refuses names that resolve to forbidden addresses', async () => {
    const lookup = guardedLookup([], fakeLookup(table));
    for (const host of ['rebind.test', 'mixed.test']) {
      const { err } = await lookupOnce(lookup, host, true);
      expect(err, host).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('ssrf_blocked');
    }
    expect(((await lookupOnce(lookup, 'mixed.test', false)).err as AppError).message).toBe(
      'connecting to mixed.test is refused: it resolves to a private address (10.0.0.0/8); add it to SSRF_ALLOWLIST to allow it',
    );
  });

  it('answers both lookup forms for allowed names', async () => {
    const lookup = guardedLookup([], fakeLookup(table));
    expect(await lookupOnce(lookup, 'public.test', true)).toMatchObject({
      err: null,
      address: [
        { address: '93.184.216.34', family: 4 },
        { address: '2606:2800:220:1::', family: 6 },
      ] satisfies LookupAddress[],
    });
    expect(await lookupOnce(lookup, 'public.test', false)).toEqual({ err: null, address: '93.184.216.34', family: 4 });
    expect(((await lookupOnce(lookup, 'none.test', true)).err as NodeJS.ErrnoException).code).toBe('ENOTFOUND');
  });

  it('lets allow-listed names and addresses through', async () => {
    expect((await lookupOnce(guardedLookup(['rebind.test'], fakeLookup(table)), 'rebind.test', false)).err).toBeNull();
    expect((await lookupOnce(guardedLookup(['127.0.0.0/8'], fakeLookup(table)), 'rebind.test', false)).err).toBeNull();
    expect(
      (await lookupOnce(guardedLookup(['127.0.0.0/8'], fakeLookup(table)), 'mixed.test', false)).err,
    ).toBeInstanceOf(AppError);
  });
});

describe('guardedNodeFetch', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((_req, res) => res.end('inside'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => void server.close());

  const lookup = fakeLookup({ 'app.test': ['127.0.0.1'] });

  it('refuses at connect time a name that resolves to loopback (DNS rebinding)', async () => {
    // The pre-check sees a public address; the connection would go to 127.0.0.1.
    const guarded = createGuardedFetch({
      resolve: async () => ['93.184.216.34'],
      fetch: guardedNodeFetch([], { lookup }),
    });
    const err = await guarded(`http://app.test:${port}/`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('ssrf_blocked');
    expect((err as AppError).message).toContain('connecting to app.test is refused: it resolves to a loopback address');
  });

  it('refuses IP literals by itself', async () => {
    const err = await guardedNodeFetch([])(`http://127.0.0.1:${port}/`).catch((e: unknown) => e);
    expect((err as Error).cause).toBeInstanceOf(AppError);
  });

  it('connects when the address is allow-listed', async () => {
    const allowlist = ['127.0.0.1'];
    const guarded = createGuardedFetch({ allowlist, fetch: guardedNodeFetch(allowlist, { lookup }) });
    const res = await guarded(`http://app.test:${port}/`);
    expect(await res.text()).toBe('inside');
    expect(await (await guarded(`http://127.0.0.1:${port}/`)).text()).toBe('inside');
  });
});

describe('resolveHost', () => {
  it('resolves through the system resolver (/etc/hosts)', async () => {
    const addresses = await resolveHost('localhost');
    expect(addresses.some((a) => a === '127.0.0.1' || a === '::1')).toBe(true);
  });

  it("rejects with the signal's reason", async () => {
    await expect(resolveHost('localhost', AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
  });
});
