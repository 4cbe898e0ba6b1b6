import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
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
  let bundle: Promise<Uint8Array> | undefined;
  return {
    plotly: () =>
      (bundle ??= readFile(path())
        .then((buf) => new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength))
        .catch((err: unknown) => {
          bundle = undefined;
          throw err;
        })),
  };
}
