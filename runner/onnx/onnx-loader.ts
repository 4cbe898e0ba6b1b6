import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../../shared/errors.ts';
import { fits, type HostedModel, type LoadPlan, type ModelLoader } from '../host/model-host.ts';

const MB = 1024 ** 2;

/** What small ONNX models need: about three times their files (onnxruntime holds the weights plus its arenas). */
const SMALL_MODEL_NEED = (bytes: number) => 3 * bytes + 64 * MB;

/**
 * A loader of several-file ONNX models for the shared host: the catalog entry's `files` must name every role in
 * `roles` (500 otherwise: the catalog is wrong), and may name those in `optional`; the plan needs `need(bytes)` of
 * RAM for all the entry's files, external weights (`.onnx_data`) included, and 507s when that is not free; `create`
 * gets each named role's path.
 */
export function onnxLoader<R extends string, O extends string = never>(
  roles: readonly R[],
  create: (files: Record<R, string> & Partial<Record<O, string>>) => Promise<HostedModel>,
  optional: readonly O[] = [],
  need: (bytes: number) => number = SMALL_MODEL_NEED,
): ModelLoader<HostedModel> {
  return async ({ name, entry, path }): Promise<LoadPlan<HostedModel>> => {
    const files = {} as Record<R, string> & Partial<Record<O, string>>;
    for (const role of roles) {
      const file = entry.files?.[role];
      if (!file)
        throw new AppError(500, `Model ${name}: a ${entry.kind} model names its files.${role} in the catalog`, {
          code: 'invalid_catalog_entry',
        });
      (files as Record<string, string>)[role] = join(path, file);
    }
    for (const role of optional) {
      const file = entry.files?.[role];
      if (file) (files as Record<string, string>)[role] = join(path, file);
    }
    let bytes = 0;
    for (const file of Object.values(entry.files ?? {})) bytes += (await stat(join(path, file))).size;
    const wanted = { ram: Math.ceil(need(bytes)), vram: 0 };
    return {
      need: wanted,
      load: async (free) => {
        if (!fits(wanted, free))
          throw new AppError(
            507,
            `Model ${name} needs ${Math.ceil(wanted.ram / MB)} MB of memory; ${Math.floor(free.ram / MB)} MB are free`,
            { code: 'insufficient_memory' },
          );
        return { model: await create(files), holds: { ...wanted, mapped: 0 } };
      },
    };
  };
}
