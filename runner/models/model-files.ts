import type { ModelFiles } from '../llm/llm-engine.ts';
import { Downloads, type DownloadsOptions } from './downloader.ts';

/** Catalog entries → files on disk: local paths as they are, `hf:` and URL sources downloaded into MODELS_DIR. */
export function modelFiles(options: DownloadsOptions): ModelFiles {
  const downloads = new Downloads(options);
  return { ensure: (name, entry, opts) => downloads.download(name, entry, opts) };
}
