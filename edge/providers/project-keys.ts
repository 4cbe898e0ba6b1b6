import { and, eq } from 'drizzle-orm';
import type { Db } from '../../drizzle/db.ts';
import { projectProviderKeys } from '../../drizzle/schema.ts';
import { TtlCache } from '../auth/ttl-cache.ts';

/**
 * Per-project keys for hosted providers, read through a short cache
 * (`cacheTtlMs`, default 5 s) so a changed key takes effect within seconds.
 * Upstream keys must be sent as they are, so they are stored as given:
 * protect the database like the server's environment.
 */
export class ProjectProviderKeys {
  readonly #cache: TtlCache<string, Record<string, string>>;

  constructor(
    readonly db: Db,
    { cacheTtlMs = 5_000 }: { cacheTtlMs?: number } = {},
  ) {
    this.#cache = new TtlCache(cacheTtlMs);
  }

  /** The project's keys by provider id (empty when it has none). */
  async get(projectId: string): Promise<Record<string, string>> {
    const cached = this.#cache.get(projectId);
    if (cached) return cached;
    const rows = await this.db
      .select({ provider: projectProviderKeys.provider, apiKey: projectProviderKeys.apiKey })
      .from(projectProviderKeys)
      .where(eq(projectProviderKeys.projectId, projectId))
      .all();
    const keys = Object.fromEntries(rows.map((r) => [r.provider, r.apiKey]));
    this.#cache.set(projectId, keys);
    return keys;
  }

  async set(projectId: string, provider: string, apiKey: string): Promise<void> {
    await this.db
      .insert(projectProviderKeys)
      .values({ projectId, provider, apiKey })
      .onConflictDoUpdate({
        target: [projectProviderKeys.projectId, projectProviderKeys.provider],
        set: { apiKey, updatedAt: new Date() },
      })
      .run();
    this.#cache.delete(projectId);
  }

  /** False when the project had no key for that provider. */
  async remove(projectId: string, provider: string): Promise<boolean> {
    const removed = await this.db
      .delete(projectProviderKeys)
      .where(and(eq(projectProviderKeys.projectId, projectId), eq(projectProviderKeys.provider, provider)))
      .returning({ provider: projectProviderKeys.provider });
    this.#cache.delete(projectId);
    return removed.length > 0;
  }
}
