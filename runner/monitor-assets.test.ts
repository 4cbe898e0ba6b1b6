import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nodeMonitorAssets, plotlyBundlePath } from './monitor-assets.ts';

describe('nodeMonitorAssets', () => {
  it('reads Plotly’s bundle from node_modules once and keeps it', async () => {
    expect(plotlyBundlePath()).toMatch(/plotly\.js-dist-min[\\/]plotly\.min\.js$/);
    const assets = nodeMonitorAssets();
    const first = await assets.plotly();
    expect(first).toBeInstanceOf(Uint8Array);
    expect((first as Uint8Array).byteLength).toBe(readFileSync(plotlyBundlePath()).byteLength);
    expect(await assets.plotly()).toBe(first);
  });

  it('retries after a failed read', async () => {
    let path = '/nonexistent/plotly.min.js';
    const assets = nodeMonitorAssets(() => path);
    await expect(assets.plotly()).rejects.toThrow(/ENOENT/);
    path = plotlyBundlePath();
    expect(((await assets.plotly()) as Uint8Array).byteLength).toBeGreaterThan(1_000_000);
  });
});
