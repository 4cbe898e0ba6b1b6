import { tmpdir } from 'node:os';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { TINY_CATALOG } from '../../../test/helpers/tiny-models.ts';
import { sharedModelHost } from '../../host/shared-host.ts';
import { modelFiles } from '../../models/model-files.ts';
import { ClipEngine } from './clip-engine.ts';

describe('ClipEngine on the shared host', () => {
  it('unloads a model whose onnxruntime thread died, so the next request loads it again', async () => {
    const host = sharedModelHost({
      models: TINY_CATALOG.models,
      files: modelFiles({ modelsDir: tmpdir() }),
      keepAliveMs: -1,
    });
    const engine = new ClipEngine({ host, threads: 1 });
    const red = (
      await sharp({ create: { width: 8, height: 8, channels: 3, background: '#ff0000' } })
        .png()
        .toBuffer()
    ).toString('base64');
    const request = { image: red, labels: ['green', 'red'] };
    expect((await engine.analyze(request)).best_label).toBe('red');

    const lease = await host.acquire('tiny-clip');
    // The model's own thread (a private field), reached around the type.
    const loaded = lease.model as unknown as { worker: { terminate(): Promise<void> }; broken: boolean };
    lease.release();
    await loaded.worker.terminate(); // as a crash or an out-of-memory kill would end it
    expect(loaded.broken).toBe(true);

    await expect(engine.analyze(request)).rejects.toThrow(/exited/);
    expect(host.isLoaded('tiny-clip')).toBe(false);
    expect((await engine.analyze(request)).best_label).toBe('red');
    await host.dispose();
  });
});
