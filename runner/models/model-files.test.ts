import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyClip, CLIP_FILES } from '../../test/fixtures/tiny-clip.ts';
import { startHubServer, type HubServer } from '../../test/helpers/hub-server.ts';
import { localTestInference } from '../../test/helpers/test-app.ts';
import { CatalogEntry } from '../../shared/schemas/catalog.ts';
import type { LoadEvent } from '../../shared/schemas/models.ts';

let hub: HubServer;
const modelsDir = mkdtempSync(join(tmpdir(), 'edgerunner-multifile-'));

beforeAll(async () => {
  const files = Object.fromEntries(
    Object.entries(buildTinyClip()).map(([path, bytes]) => [`acme/tiny-clip/${path}`, bytes]),
  );
  hub = await startHubServer({ files });
});
afterAll(async () => {
  await hub?.close();
  rmSync(modelsDir, { recursive: true, force: true });
});

describe('a several-file model from the hub (catalog `files`)', () => {
  it('downloads every file into MODELS_DIR with one progress, loads, serves; the next load finds them', async () => {
    const catalog = { models: { clip: { kind: 'clip' as const, source: 'hf:acme/tiny-clip', files: CLIP_FILES } } };
    const inference = localTestInference('hub', catalog, { modelsDir, hfEndpoint: hub.url });
    const events: LoadEvent[] = [];
    for await (const event of await inference.loadModel('clip')) events.push(event);
    const progress = events.filter((e): e is { progress: number } => 'progress' in e).map((e) => e.progress);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(1);
    expect(events.slice(-2)).toEqual([{ status: 'completed' }, { status: 'loaded' }]);
    for (const file of Object.values(CLIP_FILES))
      expect(existsSync(join(modelsDir, 'acme/tiny-clip', file))).toBe(true);

    const red = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#ff0000' } })
      .png()
      .toBuffer();
    const result = await inference.analyzeImage({ image: red.toString('base64'), labels: ['blue', 'red'] });
    expect(result.best_label).toBe('red');

    const again = localTestInference('hub2', catalog, { modelsDir, hfEndpoint: hub.url });
    const second: LoadEvent[] = [];
    for await (const event of await again.loadModel('clip')) second.push(event);
    expect(second).toEqual([{ status: 'exists' }, { status: 'loaded' }]);
  });

  it('refuses one size or checksum for several files in the catalog', () => {
    const entry = { kind: 'clip', source: 'hf:acme/tiny-clip', files: CLIP_FILES };
    expect(CatalogEntry.safeParse(entry).success).toBe(true);
    const checked = CatalogEntry.safeParse({ ...entry, sha256: '0'.repeat(64) });
    expect(checked.success).toBe(false);
    expect(checked.error?.issues[0]?.path).toEqual(['files']);
  });
});
