import { and, desc, eq, isNull } from 'drizzle-orm';
import type { Db } from '../../drizzle/db.ts';
import { apiKeys, projects } from '../../drizzle/schema.ts';
import { AppError } from '../../shared/errors.ts';
import { randomAlphanumeric, randomDigits, sha256Hex, timingSafeEqual } from '../../shared/ids.ts';
import type { Principal } from '../env.ts';
import type { Scope } from './scopes.ts';
import { TtlCache } from './ttl-cache.ts';

const KEY_FORMAT = /^apiKey\.(\d{1,20})\.([A-Za-z0-9]{16,128})$/;

export function looksLikeApiKey(value: string): boolean {
  return value.startsWith('apiKey.');
}

export interface CreatedKey {
  id: string;
  projectId: string;
  scope: Scope;
  /** The whole key, `apiKey.{id}.{secret}`: shown once, never stored. */
  key: string;
}

export interface KeyRow {
  id: string;
  projectId: string;
  projectName: string;
  name: string | null;
  scope: Scope;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface ApiKeyStoreOptions {
  /** How long a verification is trusted; default 5 s (a revocation takes effect within it). */
  cacheTtlMs?: number;
  /** Valid keys kept verified; default 10,000. */
  maxCachedKeys?: number;
  /**
   * Well-formed but unknown keys remembered, apart from the valid ones, so
   * random keys never push a valid key out; default 1,000.
   */
  maxCachedMisses?: number;
}

/**
 * API keys: creation, listing, revocation and verification. Verification is
 * cached for `cacheTtlMs` (default 5 s), so auth stays off the database's hot
 * path and a revocation takes effect within that time. Valid keys and misses
 * are cached apart, each bounded; malformed keys are never cached.
 */
export class ApiKeyStore {
  readonly #verified: TtlCache<string, Principal>;
  readonly #misses: TtlCache<string, true>;
  readonly #anyKey: TtlCache<'any', boolean>;
  readonly #touched = new TtlCache<string, true>(60_000);

  constructor(
    readonly db: Db,
    { cacheTtlMs = 5_000, maxCachedKeys = 10_000, maxCachedMisses = 1_000 }: ApiKeyStoreOptions = {},
  ) {
    this.#verified = new TtlCache(cacheTtlMs, maxCachedKeys);
    this.#misses = new TtlCache(cacheTtlMs, maxCachedMisses);
    this.#anyKey = new TtlCache(cacheTtlMs, 1);
  }

  /** The principal a key belongs to, or null when it is malformed, unknown or revoked. */
  async verify(raw: string, background: (p: Promise<unknown>) => void = noWait): Promise<Principal | null> {
    const cached = this.#verified.get(raw);
    if (cached !== undefined) return cached;
    if (!KEY_FORMAT.test(raw) || this.#misses.get(raw)) return null;
    const principal = await this.#lookup(raw);
    if (!principal) {
      this.#misses.set(raw, true);
      return null;
    }
    this.#verified.set(raw, principal);
    if (principal && !this.#touched.get(principal.id)) {
      this.#touched.set(principal.id, true);
      const id = principal.id.slice('key:'.length);
      background(this.db.update(apiKeys).set({ lastUsedAt: new Date() }).where(eq(apiKeys.id, id)).run());
    }
    return principal;
  }

  async #lookup(raw: string): Promise<Principal | null> {
    const match = KEY_FORMAT.exec(raw);
    if (!match) return null;
    const [, id, secret] = match as unknown as [string, string, string];
    const row = await this.db.select().from(apiKeys).where(eq(apiKeys.id, id)).get();
    if (!row || row.revokedAt) return null;
    if (!timingSafeEqual(await sha256Hex(secret), row.secretHash)) return null;
    return { id: `key:${row.id}`, kind: 'api-key', projectId: row.projectId, scope: row.scope };
  }

  /** Whether any unrevoked key exists (cached like `verify`). */
  async hasAnyKey(): Promise<boolean> {
    const cached = this.#anyKey.get('any');
    if (cached !== undefined) return cached;
    const row = await this.db.select({ id: apiKeys.id }).from(apiKeys).where(isNull(apiKeys.revokedAt)).limit(1).get();
    this.#anyKey.set('any', !!row);
    return !!row;
  }

  /** Creates a key in project `projectName` (created when missing); `scope` defaults to `inference`. */
  async create(
    projectName: string,
    { name, scope = 'inference' }: { name?: string; scope?: Scope } = {},
  ): Promise<CreatedKey> {
    const project = await this.ensureProject(projectName);
    const id = randomDigits(12);
    const secret = randomAlphanumeric(40);
    await this.db
      .insert(apiKeys)
      .values({ id, projectId: project.id, name: name ?? null, scope, secretHash: await sha256Hex(secret) })
      .run();
    this.#anyKey.clear();
    this.#misses.clear();
    return { id, projectId: project.id, scope, key: `apiKey.${id}.${secret}` };
  }

  async ensureProject(name: string): Promise<{ id: string; name: string }> {
    const existing = await this.db.select().from(projects).where(eq(projects.name, name)).get();
    if (existing) return existing;
    const id = crypto.randomUUID();
    await this.db.insert(projects).values({ id, name }).onConflictDoNothing().run();
    return (await this.db.select().from(projects).where(eq(projects.name, name)).get())!;
  }

  async list(): Promise<KeyRow[]> {
    return this.db
      .select({
        id: apiKeys.id,
        projectId: apiKeys.projectId,
        projectName: projects.name,
        name: apiKeys.name,
        scope: apiKeys.scope,
        createdAt: apiKeys.createdAt,
        lastUsedAt: apiKeys.lastUsedAt,
        revokedAt: apiKeys.revokedAt,
      })
      .from(apiKeys)
      .innerJoin(projects, eq(projects.id, apiKeys.projectId))
      .orderBy(desc(apiKeys.createdAt))
      .all();
  }

  /** Revokes a key; 404 when there is no such unrevoked key. */
  async revoke(id: string): Promise<void> {
    const result = await this.db
      .update(apiKeys)
      .set({ revokedAt: new Date() })
      .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id });
    if (result.length === 0) throw new AppError(404, `No active API key with id ${id}`);
    this.#verified.clear();
    this.#anyKey.clear();
  }
}

function noWait(p: Promise<unknown>): void {
  p.catch(() => {});
}
