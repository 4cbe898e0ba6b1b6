import { readFile } from 'node:fs/promises';
import { Catalog } from '../../shared/schemas/catalog.ts';

/** Reads and validates `models.json`; the error says which entry and field is wrong. */
export async function loadCatalog(path: string): Promise<Catalog> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read model catalog ${path}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = Catalog.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`model catalog ${path}: ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}
