import { stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { AppError } from '../../shared/errors.ts';
import type { CatalogEntry } from '../../shared/schemas/catalog.ts';
import type { ModelFiles } from '../llm/llm-engine.ts';

/** Fetches remote model files (the downloader). */
export type RemoteFiles = ModelFiles;

export interface ModelFilesOptions {
  modelsDir: string;
  /** Handles `hf:` and http(s) sources; absent, only local files can be served. */
  remote?: RemoteFiles;
}

/** True for sources fetched over the network (`hf:…`, `http(s)://…`). */
export function isRemoteSource(source: string): boolean {
  return source.startsWith('hf:') || /^https?:\/\//.test(source);
}

/** Catalog entries → files: local paths (absolute or under MODELS_DIR) as they are, remote ones downloaded. */
export function modelFiles({ modelsDir, remote }: ModelFilesOptions): ModelFiles {
  return {
    async ensure(name: string, entry: CatalogEntry, options) {
      if (isRemoteSource(entry.source)) {
        if (!remote) throw new AppError(503, `Model ${name} must be downloaded, and this node cannot download models`);
        return remote.ensure(name, entry, options);
      }
      const path = isAbsolute(entry.source) ? entry.source : resolve(modelsDir, entry.source);
      const found = await stat(path).catch(() => null);
      if (!found?.isFile())
        throw new AppError(404, `Model file for ${name} not found at ${path}`, { code: 'model_file_missing' });
      return { path, status: 'exists' };
    },
  };
}
