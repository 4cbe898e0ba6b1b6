import type { MiddlewareHandler } from 'hono';
import { AppError } from '../../shared/errors.ts';
import type { AppEnv } from '../env.ts';

/** What charging one request against a key found. */
export interface RateLimitResult {
  ok: boolean;
  /** Seconds until a denied request may succeed (0 when `ok`). */
  retryAfterS: number;
  /** Requests left in the current minute; -1 when the limiter cannot tell. */
  remaining: number;
}

/** Counts requests per key; `take` charges one request when it is within the limit. */
export interface RateLimiter {
  take(key: string, limit: { perMinute: number }): Promise<RateLimitResult>;
}

/** Default requests per minute per API key / token holder (`RATE_LIMIT_PER_KEY`). */
export const DEFAULT_PER_KEY = 600;
/** Default requests per minute per project, all its keys together (`RATE_LIMIT_PER_PROJECT`). */
export const DEFAULT_PER_PROJECT = 3000;

export interface RateLimitConfig {
  /** Requests per minute per principal; 0 = off. */
  perKey: number;
  /** Requests per minute per project; 0 = off. */
  perProject: number;
}

/**
 * `RATE_LIMIT_PER_KEY` (default 600) and `RATE_LIMIT_PER_PROJECT` (default 3000), requests per minute,
 * 0 = off. Throws naming the variable on anything but a whole number ≥ 0.
 */
export function rateLimitConfig(env: Record<string, unknown>): RateLimitConfig {
  return {
    perKey: perMinute(env, 'RATE_LIMIT_PER_KEY', DEFAULT_PER_KEY),
    perProject: perMinute(env, 'RATE_LIMIT_PER_PROJECT', DEFAULT_PER_PROJECT),
  };
}

function perMinute(env: Record<string, unknown>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) return fallback;
  const text = String(raw).trim();
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new Error(`${name} must be a whole number of requests per minute (0 = off), got "${text}"`);
  }
  return Number(text);
}

export interface MemoryRateLimiterOptions {
  /** Milliseconds clock; default `Date.now`. */
  now?: () => number;
  /** Most keys tracked at once; beyond it the least recently used are forgotten. Default 10 000. */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  at: number;
  capacity: number;
}

/**
 * An in-memory token bucket per key: `perMinute` requests at once at most, refilled at `perMinute` per
 * minute. Memory is bounded: buckets that have refilled (the same as none) are swept now and then, and
 * past `maxKeys` the least recently used key is forgotten. One process only (Node, or one Workers isolate).
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;
  readonly #maxKeys: number;
  #takes = 0;

  constructor({ now = Date.now, maxKeys = 10_000 }: MemoryRateLimiterOptions = {}) {
    this.#now = now;
    this.#maxKeys = Math.max(1, maxKeys);
  }

  /** How many keys are tracked now. */
  get size(): number {
    return this.#buckets.size;
  }

  async take(key: string, { perMinute }: { perMinute: number }): Promise<RateLimitResult> {
    if (!(perMinute > 0)) return { ok: true, retryAfterS: 0, remaining: -1 };
    const now = this.#now();
    const rate = perMinute / 60_000; // tokens per ms
    const bucket = this.#buckets.get(key);
    let tokens = perMinute;
    if (bucket) {
      tokens = Math.min(perMinute, bucket.tokens + Math.max(0, now - bucket.at) * rate);
      this.#buckets.delete(key); // re-inserted below: the Map's order is least recently used first
    }
    if (tokens < 1) {
      this.#buckets.set(key, { tokens, at: now, capacity: perMinute });
      return { ok: false, retryAfterS: Math.max(1, Math.ceil((1 - tokens) / rate / 1000)), remaining: 0 };
    }
    tokens -= 1;
    this.#buckets.set(key, { tokens, at: now, capacity: perMinute });
    if (++this.#takes % this.#maxKeys === 0) this.#sweep(now);
    if (this.#buckets.size > this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    return { ok: true, retryAfterS: 0, remaining: Math.floor(tokens) };
  }

  /** Drops the buckets that have refilled (every `maxKeys` requests: constant time per request on average). */
  #sweep(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) * bucket.capacity) / 60_000 >= bucket.capacity) this.#buckets.delete(key);
    }
  }
}

/** A Workers Rate Limiting binding (`[[ratelimits]]` in wrangler.toml); the same shape as workers-types' `RateLimit`. */
export interface RateLimitBinding {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

export interface BindingRateLimiterOptions {
  /** The binding for `key:` keys and the one for `project:` keys; a missing one lets those through. */
  bindings: { key?: RateLimitBinding; project?: RateLimitBinding };
  /** Milliseconds clock; default `Date.now`. */
  now?: () => number;
}

/**
 * A RateLimiter over Workers Rate Limiting bindings (one per scope, picked by the key's prefix). The limit
 * and its 60 s period are the binding's own (`simple.limit`), so `perMinute` is not used; the binding tells
 * neither what is left (`remaining` -1) nor when its window ends (`retryAfterS`: to the next whole minute).
 * Counts are per Cloudflare location and eventually consistent: a guard against abuse, not exact quotas.
 */
export function bindingRateLimiter({ bindings, now = Date.now }: BindingRateLimiterOptions): RateLimiter {
  return {
    async take(key) {
      const scope = key.slice(0, key.indexOf(':'));
      const binding = scope === 'key' || scope === 'project' ? bindings[scope] : undefined;
      if (!binding) return { ok: true, retryAfterS: 0, remaining: -1 };
      const { success } = await binding.limit({ key });
      if (success) return { ok: true, retryAfterS: 0, remaining: -1 };
      return { ok: false, retryAfterS: Math.max(1, 60 - (Math.floor(now() / 1000) % 60)), remaining: 0 };
    },
  };
}

export interface RateLimitOptions {
  limiter: RateLimiter;
  /** Requests per minute per principal (`key:<principal.id>`); default 600; 0 = off. */
  perKey?: number;
  /** Requests per minute per project (`project:<projectId>`); default 3000; 0 = off. */
  perProject?: number;
}

/**
 * Charges each request, after `authenticate`, against its principal's limit and its project's; either
 * exhausted → 429 with `Retry-After` (seconds). Anonymous local use is not limited. Answers carry
 * `x-ratelimit-remaining` when the limiter can tell (the smaller of the two).
 */
export function rateLimit({
  limiter,
  perKey = DEFAULT_PER_KEY,
  perProject = DEFAULT_PER_PROJECT,
}: RateLimitOptions): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = c.get('principal');
    if (!principal || principal.kind === 'anonymous') return next();
    const charges: { key: string; perMinute: number; what: string }[] = [];
    if (perKey > 0) charges.push({ key: `key:${principal.id}`, perMinute: perKey, what: 'this API key' });
    if (perProject > 0 && principal.projectId) {
      charges.push({ key: `project:${principal.projectId}`, perMinute: perProject, what: 'this project' });
    }
    let remaining = Infinity;
    for (const { key, perMinute, what } of charges) {
      const result = await limiter.take(key, { perMinute });
      if (!result.ok) {
        const retryAfter = String(Math.max(1, Math.ceil(result.retryAfterS)));
        throw new AppError(
          429,
          `Rate limit exceeded for ${what} (${perMinute} requests per minute); retry after ${retryAfter} s`,
          { code: 'rate_limit_exceeded', headers: { 'Retry-After': retryAfter, 'x-ratelimit-remaining': '0' } },
        );
      }
      if (result.remaining >= 0) remaining = Math.min(remaining, result.remaining);
    }
    if (Number.isFinite(remaining)) c.header('x-ratelimit-remaining', String(remaining));
    await next();
  };
}
