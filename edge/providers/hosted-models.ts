import { eq } from 'drizzle-orm';
import type { Db } from '../../drizzle/db.ts';
import { projects } from '../../drizzle/schema.ts';
import { AppError } from '../../shared/errors.ts';
import { TtlCache } from '../auth/ttl-cache.ts';
import type { ProviderRegistry, ResolvedProvider } from './provider-registry.ts';

/**
 * Whether a project's list of hosted models allows `slug`: an entry is an
 * alias (`gpt-4o-mini`), a `provider/model` (matched against the model sent
 * upstream too), `provider/*`, or `*`.
 */
export function listAllows(
  entries: readonly string[],
  slug: string,
  resolved: Pick<ResolvedProvider, 'providerId' | 'upstreamModel'>,
): boolean {
  const canonical = `${resolved.providerId}/${resolved.upstreamModel}`;
  return entries.some((e) => e === '*' || e === slug || e === canonical || e === `${resolved.providerId}/*`);
}

/**
 * Throws a 403 unless the caller may use hosted model `slug`. With a project
 * list (`projectList`, set by the operator) only what it allows; without one,
 * the slugs the operator listed for each provider, and `provider/<model>`
 * only where the provider allows passthrough (`PROVIDER_PASSTHROUGH`, a
 * providers.json `passthrough`, or the project's own key for it).
 */
export function checkHostedModel(
  slug: string,
  resolved: ResolvedProvider,
  projectList: readonly string[] | null,
): void {
  if (projectList) {
    if (listAllows(projectList, slug, resolved)) return;
    throw new AppError(
      403,
      `Model ${slug} is not enabled for this project; the operator enables it with ` +
        `npm run keys -- hosted allow --project NAME ${slug}`,
      { code: 'model_not_allowed', param: 'model' },
    );
  }
  if (resolved.alias || resolved.passthrough) return;
  throw new AppError(
    403,
    `Model ${slug} is not offered: only the hosted models the server lists may be used (GET /v1/models); ` +
      `the operator allows any ${resolved.providerId}/ model with PROVIDER_PASSTHROUGH=${resolved.providerId}, ` +
      `or a project may set its own ${resolved.providerId} key (npm run keys -- provider set)`,
    { code: 'model_not_allowed', param: 'model' },
  );
}

/** The aliases of `registry` a project's list lets it see (all of them without a list). */
export function visibleModels(registry: ProviderRegistry, projectList: readonly string[] | null): string[] {
  return registry
    .listModels()
    .filter((m) => !projectList || listAllows(projectList, m.id, m))
    .map((m) => m.id);
}

/**
 * Per-project lists of hosted models (`projects.hosted_models`), read through
 * a short cache (`cacheTtlMs`, default 5 s). Null: the default policy.
 */
export class ProjectHostedModels {
  readonly #cache: TtlCache<string, readonly string[] | null>;

  constructor(
    readonly db: Db,
    { cacheTtlMs = 5_000 }: { cacheTtlMs?: number } = {},
  ) {
    this.#cache = new TtlCache(cacheTtlMs);
  }

  async get(projectId: string): Promise<readonly string[] | null> {
    const cached = this.#cache.get(projectId);
    if (cached !== undefined) return cached;
    const row = await this.db
      .select({ hostedModels: projects.hostedModels })
      .from(projects)
      .where(eq(projects.id, projectId))
      .get();
    const list = row?.hostedModels ?? null;
    this.#cache.set(projectId, list);
    return list;
  }

  /** Replaces the project's list; null returns it to the default policy. */
  async set(projectId: string, list: readonly string[] | null): Promise<void> {
    await this.db
      .update(projects)
      .set({ hostedModels: list ? [...list] : null })
      .where(eq(projects.id, projectId))
      .run();
    this.#cache.delete(projectId);
  }
}
