import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { DocsAssets } from '../edge/routes/docs.ts';
import type { MonitorAssets } from '../edge/routes/monitor.ts';

/** Plotly's minified bundle in node_modules (`plotly.js-dist-min`). */
export function plotlyBundlePath(): string {
  return createRequire(import.meta.url).resolve('plotly.js-dist-min/plotly.min.js');
}

/**
 * `/monitor`'s assets on Node: Plotly's bundle read from node_modules on
 * first use and kept in memory (a failed read is retried next time).
 */
export function nodeMonitorAssets(path: () => string = plotlyBundlePath): MonitorAssets {
  return { plotly: fileLoader(path) };
}

/** Swagger UI's files in node_modules (`swagger-ui-dist`), for `/docs`. */
export function nodeDocsAssets(): DocsAssets {
  const resolve = (file: string) => () => createRequire(import.meta.url).resolve(`swagger-ui-dist/${file}`);
  return { bundle: fileLoader(resolve('swagger-ui-bundle.js')), css: fileLoader(resolve('swagger-ui.css')) };
}

/** A file read on first use and kept in memory (a failed read is retried next time). */
function fileLoader(path: () => string): () => Promise<Uint8Array> {
  let bytes: Promise<Uint8Array> | undefined;
  return () =>
    (bytes ??= readFile(path())
      .then((buf) => new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength))
      .catch((err: unknown) => {
        bytes = undefined;
        throw err;
      }));
}
