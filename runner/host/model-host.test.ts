import { describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { fits, ModelHost, type HostedModel, type Memory, type ModelLoader } from './model-host.ts';

const MB = 1024 * 1024;

interface Fake extends HostedModel {
  kind: 'llm';
  name: string;
  disposed: boolean;
}

/** A host over fake models that each need `need` MB; `failDispose` makes disposing reject. */
function host({
  ram = 1000,
  need = 100,
  keepAliveMs = -1,
  failDispose = false,
  logger,
}: { ram?: number; need?: number; keepAliveMs?: number; failDispose?: boolean; logger?: Logger } = {}) {
  const events: string[] = [];
  let held = 0;
  const loader: ModelLoader<Fake> = async ({ name }) => {
    events.push(`plan ${name}`);
    const needs: Memory = { ram: need * MB, vram: 0 };
    return {
      need: needs,
      async load(free) {
        if (!fits(needs, free)) throw new AppError(507, `Not enough memory to load ${name}`);
        await new Promise((r) => setTimeout(r, 5));
        events.push(`loaded ${name}`);
        held += need * MB;
        const model: Fake = {
          kind: 'llm',
          name,
          disposed: false,
          async dispose() {
            model.disposed = true;
            held -= need * MB;
            if (failDispose) throw new Error(`dispose of ${name} failed`);
          },
        };
        return { model, holds: { ram: need * MB, vram: 0, mapped: 0 } };
      },
    };
  };
  const models = Object.fromEntries(['a', 'b', 'c'].map((n) => [n, { kind: 'llm' as const, source: `/x/${n}.gguf` }]));
  const h = new ModelHost<Fake>({
    models,
    files: { ensure: async () => ({ path: '/x', status: 'exists' as const }) },
    loaders: { llm: loader },
    keepAliveMs,
    memory: () => ({ ram: ram * MB - held, vram: 0 }),
    logger,
  });
  return { h, events };
}

describe('ModelHost', () => {
  it('loads one model at a time, so two loads cannot both pass the memory check', async () => {
    const { h, events } = host({ ram: 150, need: 100 });
    const [a, b] = await Promise.allSettled([h.acquire('a'), h.acquire('b')]);
    // The second plan is made after the first load, which it sees (and cannot evict: its caller is about to lease it).
    expect(events).toEqual(['plan a', 'loaded a', 'plan b']);
    expect(a.status).toBe('fulfilled');
    expect(b.status === 'rejected' && (b.reason as AppError).status).toBe(507);
  });

  it('evicts idle models least recently used first, never one with a lease', async () => {
    const { h } = host({ ram: 250, need: 100 });
    const a = await h.acquire('a');
    (await h.acquire('b')).release();
    (await h.acquire('c')).release(); // evicts b (a is leased)
    expect(h.loadedNames.sort()).toEqual(['a', 'c']);
    expect(h.leases('a')).toBe(1);
    a.release();
    expect(h.leases('a')).toBe(0);
  });

  it('an idle unload whose dispose fails is logged, never an unhandled rejection', async () => {
    const errors: unknown[] = [];
    const logger: Logger = {
      debug() {},
      info() {},
      warn() {},
      error: (msg, fields) => errors.push({ msg, ...fields }),
    };
    const { h } = host({ keepAliveMs: 1, failDispose: true, logger });
    (await h.acquire('a')).release();
    await expect.poll(() => errors.length, { timeout: 5_000, interval: 5 }).toBe(1);
    expect(errors[0]).toEqual({ msg: 'idle unload failed', model: 'a', error: 'dispose of a failed' });
    expect(h.isLoaded('a')).toBe(false);
  });

  it('does not unload for idleness while a lease is held; the last release starts the clock', async () => {
    const { h } = host({ keepAliveMs: 1 });
    const lease = await h.acquire('a');
    await new Promise((r) => setTimeout(r, 20));
    expect(h.isLoaded('a')).toBe(true);
    lease.release();
    lease.release(); // idempotent
    await expect.poll(() => h.isLoaded('a'), { timeout: 5_000, interval: 5 }).toBe(false);
  });
});
