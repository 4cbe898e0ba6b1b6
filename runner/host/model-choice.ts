import { AppError } from '../../shared/errors.ts';
import type { CatalogEntry } from '../../shared/schemas/catalog.ts';
import type { HostedModel, ModelHost } from './model-host.ts';

/**
 * The model a request names (404 when unknown, 400 naming `model` when of another kind), else the catalog's
 * first model of `kind` (503 saying what is missing when there is none).
 */
export function modelOfKind(
  host: ModelHost<HostedModel>,
  kind: CatalogEntry['kind'],
  name: string | undefined,
  what: string,
): string {
  if (name !== undefined) {
    const entry = host.entry(name);
    if (entry.kind !== kind)
      throw new AppError(400, `model: ${name} is a ${entry.kind} model, not ${what} model`, { param: 'model' });
    return name;
  }
  const found = Object.entries(host.catalog).find(([, entry]) => entry.kind === kind);
  if (!found)
    throw new AppError(
      503,
      `${what.replace(/^an? /, '')} is not available here: the model catalog has no "${kind}" model`,
      {
        code: 'capability_unavailable',
      },
    );
  return found[0];
}
