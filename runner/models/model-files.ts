import type { ModelFiles } from '../host/model-host.ts';
import { Downloads, type DownloadsOptions } from './downloader.ts';

/**
 * Catalog entries → files on disk: local and `npm:` paths as they are, `hf:` and URL sources downloaded into
 * MODELS_DIR. An entry with `files` (an ONNX pipeline) gets each of them from `source/<file>`, one after the
 * other, with one progress (the mean of the files'); its path is then the folder that holds them.
 */
export function modelFiles(options: DownloadsOptions): ModelFiles {
  const downloads = new Downloads(options);
  return {
    ensure: async (name, entry, opts) => {
      if (!entry.files) return downloads.download(name, entry, opts);
      const files = Object.entries(entry.files);
      const fractions = files.map(() => 0);
      let status: 'exists' | 'completed' = 'exists';
      let folder = '';
      for (const [i, [role, file]] of files.entries()) {
        const onProgress = (fraction: number) => {
          fractions[i] = fraction;
          opts.onProgress?.(fractions.reduce((a, b) => a + b, 0) / files.length);
        };
        const got = await downloads.download(
          `${name} (${role})`,
          { source: `${entry.source}/${file}` },
          { ...opts, onProgress },
        );
        if (got.status === 'completed') status = 'completed';
        folder = got.path.slice(0, got.path.length - file.length - 1);
      }
      return { path: folder, status };
    },
  };
}
