import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { onError } from '../../shared/http-errors.ts';
import { createLogger } from '../../shared/log.ts';
import type { AppEnv, Principal } from '../env.ts';
import {
  bindingRateLimiter,
  MemoryRateLimiter,
  rateLimit,
  rateLimitConfig,
  type RateLimitBinding,
  type RateLimiter,
} from './rate-limit.ts';

/** A clock the test moves by hand. */
function clock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const KEY_A: Principal = { id: 'key_a', kind: 'api-key', projectId: 'proj_1' };
const KEY_B: Principal = { id: 'key_b', kind: 'api-key', projectId: 'proj_1' };
const KEY_C: Principal = { id: 'key_c', kind: 'api-key', projectId: 'proj_2' };
const NO_PROJECT: Principal = { id: 'user_1', kind: 'user', projectId: null };
const ANONYMOUS: Principal = { id: 'anonymous', kind: 'anonymous', projectId: null, scope: 'admin' };

const PRINCIPALS: Record<string, Principal> = { KEY_A, KEY_B, KEY_C, NO_PROJECT, ANONYMOUS };

/** A tiny app: a fake auth middleware sets the principal named by `x-who`; then the limit; then a route. */
function appWith(limiter: RateLimiter, limits: { perKey?: number; perProject?: number }) {
  const app = new Hono<AppEnv>();
  app.use('/llm-exec/*', async (c, next) => {
    c.set('principal', PRINCIPALS[c.req.header('x-who') ?? 'ANONYMOUS']!);
    await next();
  });
  app.use('/llm-exec/*', rateLimit({ limiter, ...limits }));
  app.post('/llm-exec/round', (c) => c.json({ ok: true }));
  app.onError(onError(createLogger('silent')));
  const call = (who: keyof typeof PRINCIPALS) =>
    app.request('/llm-exec/round', { method: 'POST', headers: { 'x-who': who } });
  return { app, call };
}

async function statuses(call: () => Response | Promise<Response>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await call()).status);
  return out;
}

describe('rateLimit middleware', () => {
  it('limits each key to its per-minute budget, then answers 429 with Retry-After', async () => {
    const t = clock();
    const { call } = appWith(new MemoryRateLimiter({ now: t.now }), { perKey: 3, perProject: 0 });
    expect(await statuses(() => call('KEY_A'), 3)).toEqual([200, 200, 200]);
    const denied = await call('KEY_A');
    expect(denied.status).toBe(429);
    const body = (await denied.json()) as { error: string; statusCode: number };
    expect(body.statusCode).toBe(429);
    expect(body.error).toMatch(/^Rate limit exceeded for this API key \(3 requests per minute\)/);
    // 3 per minute: one request comes back every 20 s.
    expect(denied.headers.get('retry-after')).toBe('20');
    expect(denied.headers.get('x-ratelimit-remaining')).toBe('0');
    // Another key has its own budget.
    expect((await call('KEY_B')).status).toBe(200);
    // After Retry-After, the key may call again — once.
    t.advance(20_000);
    expect(await statuses(() => call('KEY_A'), 2)).toEqual([200, 429]);
  });

  it('Retry-After counts down as time passes', async () => {
    const t = clock();
    const { call } = appWith(new MemoryRateLimiter({ now: t.now }), { perKey: 1, perProject: 0 });
    expect((await call('KEY_A')).status).toBe(200);
    expect((await call('KEY_A')).headers.get('retry-after')).toBe('60');
    t.advance(45_500);
    expect((await call('KEY_A')).headers.get('retry-after')).toBe('15');
    t.advance(14_500);
    expect((await call('KEY_A')).status).toBe(200);
  });

  it('limits all the keys of a project together', async () => {
    const t = clock();
    const { call } = appWith(new MemoryRateLimiter({ now: t.now }), { perKey: 100, perProject: 4 });
    expect(await statuses(() => call('KEY_A'), 2)).toEqual([200, 200]);
    expect(await statuses(() => call('KEY_B'), 3)).toEqual([200, 200, 429]);
    const denied = await call('KEY_A');
    expect(denied.status).toBe(429);
    expect(((await denied.json()) as { error: string }).error).toMatch(/for this project \(4 requests per minute\)/);
    expect(Number(denied.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(denied.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    // Another project is not affected; a principal without a project only has its own limit.
    expect((await call('KEY_C')).status).toBe(200);
    expect(await statuses(() => call('NO_PROJECT'), 5)).toEqual([200, 200, 200, 200, 200]);
  });

  it('tells what is left on successful answers', async () => {
    const t = clock();
    const { call } = appWith(new MemoryRateLimiter({ now: t.now }), { perKey: 10, perProject: 5 });
    expect((await call('KEY_A')).headers.get('x-ratelimit-remaining')).toBe('4');
    expect((await call('KEY_B')).headers.get('x-ratelimit-remaining')).toBe('3');
  });

  it('does not limit anonymous local use', async () => {
    const limiter = new MemoryRateLimiter();
    const { call } = appWith(limiter, { perKey: 1, perProject: 1 });
    expect(await statuses(() => call('ANONYMOUS'), 10)).toEqual(Array(10).fill(200));
    expect(limiter.size).toBe(0);
  });

  it('0 switches a limit off', async () => {
    const limiter = new MemoryRateLimiter();
    const { call } = appWith(limiter, { perKey: 0, perProject: 0 });
    expect(await statuses(() => call('KEY_A'), 10)).toEqual(Array(10).fill(200));
    expect(limiter.size).toBe(0);
  });
});

describe('MemoryRateLimiter', () => {
  it('refills at perMinute per minute, up to perMinute', async () => {
    const t = clock();
    const limiter = new MemoryRateLimiter({ now: t.now });
    for (let i = 0; i < 60; i++) expect((await limiter.take('k', { perMinute: 60 })).ok).toBe(true);
    expect(await limiter.take('k', { perMinute: 60 })).toEqual({ ok: false, retryAfterS: 1, remaining: 0 });
    t.advance(10_000);
    const after = await limiter.take('k', { perMinute: 60 });
    expect(after).toEqual({ ok: true, retryAfterS: 0, remaining: 9 });
    t.advance(3_600_000);
    expect((await limiter.take('k', { perMinute: 60 })).remaining).toBe(59);
  });

  it('keeps memory bounded: idle keys are swept, and past maxKeys the least recently used goes', async () => {
    const t = clock();
    const limiter = new MemoryRateLimiter({ now: t.now, maxKeys: 100 });
    for (let i = 0; i < 1000; i++) await limiter.take(`key:${i}`, { perMinute: 10 });
    expect(limiter.size).toBe(100);

    // The most recent key is still counted: its budget goes on where it was.
    for (let i = 0; i < 9; i++) expect((await limiter.take('key:999', { perMinute: 10 })).ok).toBe(true);
    expect((await limiter.take('key:999', { perMinute: 10 })).ok).toBe(false);

    // After a minute every bucket has refilled: the next sweep drops them all.
    t.advance(60_000);
    for (let i = 0; i < 100; i++) await limiter.take('busy', { perMinute: 1000 });
    expect(limiter.size).toBe(1);
  });
});

describe('bindingRateLimiter', () => {
  function fakeBinding(limit: number): RateLimitBinding & { keys: string[] } {
    const counts = new Map<string, number>();
    const keys: string[] = [];
    return {
      keys,
      async limit({ key }) {
        keys.push(key);
        const n = (counts.get(key) ?? 0) + 1;
        counts.set(key, n);
        return { success: n <= limit };
      },
    };
  }

  it('sends key: and project: keys to their own binding, and Retry-After runs to the next minute', async () => {
    const t = clock(Date.UTC(2026, 0, 1, 12, 0, 45, 300));
    const perKey = fakeBinding(2);
    const perProject = fakeBinding(100);
    const limiter = bindingRateLimiter({ bindings: { key: perKey, project: perProject }, now: t.now });
    const { call } = appWith(limiter, {});
    expect(await statuses(() => call('KEY_A'), 3)).toEqual([200, 200, 429]);
    expect(perKey.keys).toEqual(['key:key_a', 'key:key_a', 'key:key_a']);
    expect(perProject.keys).toEqual(['project:proj_1', 'project:proj_1']);
    const denied = await call('KEY_A');
    expect(denied.headers.get('retry-after')).toBe('15');
    // The binding does not say what is left: no header on success.
    expect((await call('KEY_C')).headers.get('x-ratelimit-remaining')).toBeNull();
  });

  it('lets a scope through when its binding is absent', async () => {
    const perKey = fakeBinding(1);
    const limiter = bindingRateLimiter({ bindings: { key: perKey } });
    expect((await limiter.take('project:p', { perMinute: 1 })).ok).toBe(true);
    expect((await limiter.take('key:k', { perMinute: 1 })).ok).toBe(true);
    expect((await limiter.take('key:k', { perMinute: 1 })).ok).toBe(false);
  });
});

describe('rateLimitConfig', () => {
  it('defaults to 600 per key and 3000 per project', () => {
    expect(rateLimitConfig({})).toEqual({ perKey: 600, perProject: 3000 });
    expect(rateLimitConfig({ RATE_LIMIT_PER_KEY: '', RATE_LIMIT_PER_PROJECT: ' ' })).toEqual({
      perKey: 600,
      perProject: 3000,
    });
  });

  it('reads whole numbers, 0 = off', () => {
    expect(rateLimitConfig({ RATE_LIMIT_PER_KEY: '60', RATE_LIMIT_PER_PROJECT: '0' })).toEqual({
      perKey: 60,
      perProject: 0,
    });
    expect(rateLimitConfig({ RATE_LIMIT_PER_KEY: 120 })).toEqual({ perKey: 120, perProject: 3000 });
  });

  it('throws naming the variable on a bad value', () => {
    for (const bad of ['-1', '1.5', 'ten', '1e3', '99999999999999999999']) {
      expect(() => rateLimitConfig({ RATE_LIMIT_PER_KEY: bad })).toThrow(
        `RATE_LIMIT_PER_KEY must be a whole number of requests per minute (0 = off), got "${bad}"`,
      );
    }
    expect(() => rateLimitConfig({ RATE_LIMIT_PER_PROJECT: 'x' })).toThrow('RATE_LIMIT_PER_PROJECT');
  });
});
