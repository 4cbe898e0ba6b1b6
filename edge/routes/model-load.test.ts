import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSSE } from '../../shared/sse.ts';
import { buildTinyLlama } from '../../test/fixtures/tiny-llama.ts';
import { startHubServer, type HubServer } from '../../test/helpers/hub-server.ts';
import { localTestInference, testApp } from '../../test/helpers/test-app.ts';

async function events(res: Response): Promise<Array<Record<string, unknown>>> {
  const out = [];
  for await (const data of parseSSE(res.body!)) out.push(JSON.parse(data));
  return out;
}

/** `POST /v1/models/{name}/load` downloading from a local stand-in for the hub. */
describe('model loading with live download progress', () => {
  const modelsDir = mkdtempSync(join(tmpdir(), 'edgerunner-load-'));
  // ~12 MB so the transfer reports several progress events.
  const bytes = buildTinyLlama({ embeddingLength: 256, blockCount: 4, feedForwardLength: 768, seed: 5 });
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  let hub: HubServer;
  let t: Awaited<ReturnType<typeof testApp>>;

  beforeAll(async () => {
    hub = await startHubServer({ files: { 'edgerunner/tiny/model.gguf': bytes, 'edgerunner/tiny/other.gguf': bytes } });
    const catalog = {
      models: {
        'hub-model': { kind: 'llm' as const, source: 'hf:edgerunner/tiny/model.gguf', size: bytes.length, sha256 },
        'bad-sum': { kind: 'llm' as const, source: 'hf:edgerunner/tiny/other.gguf', sha256: '0'.repeat(64) },
        missing: { kind: 'llm' as const, source: 'hf:edgerunner/tiny/nothing.gguf' },
      },
    };
    t = await testApp({ inference: localTestInference('embedded', catalog, { modelsDir, hfEndpoint: hub.url }) });
  });
  afterAll(async () => {
    t.cleanup();
    await hub.close();
    rmSync(modelsDir, { recursive: true, force: true });
  });
  const load = (name: string) => t.app.request(`/v1/models/${name}/load`, { method: 'POST' });

  it('two concurrent loads share one download; both see progress, completed, loaded', async () => {
    hub.setDropAfter(null);
    const [a, b] = await Promise.all([load('hub-model'), load('hub-model')]);
    const [ea, eb] = await Promise.all([events(a), events(b)]);
    for (const e of [ea, eb]) {
      const progress = e.filter((x) => 'progress' in x).map((x) => x.progress as number);
      expect(progress.length).toBeGreaterThan(0);
      expect(progress.at(-1)).toBe(1);
      expect(progress).toEqual([...progress].sort((x, y) => x - y));
      expect(e.slice(-2)).toEqual([{ status: 'completed' }, { status: 'loaded' }]);
    }
    expect(hub.requests.filter((r) => r.method === 'GET' && r.path.includes('model.gguf'))).toHaveLength(1);
    const again = await events(await load('hub-model'));
    expect(again).toEqual([{ status: 'exists' }, { status: 'loaded' }]);
  });

  it('a checksum mismatch reports an error event and keeps no file', async () => {
    const e = await events(await load('bad-sum'));
    expect(e.at(-1)).toMatchObject({ error: expect.stringContaining('expected 0000') });
    expect(e.some((x) => x.status === 'loaded')).toBe(false);
    const { existsSync } = await import('node:fs');
    expect(existsSync(join(modelsDir, 'edgerunner/tiny/other.gguf'))).toBe(false);
    expect(existsSync(join(modelsDir, 'edgerunner/tiny/other.gguf.partial'))).toBe(false);
  });

  it('a file the hub does not have is an error event', async () => {
    const e = await events(await load('missing'));
    expect(e.at(-1)).toMatchObject({ error: expect.any(String) });
  });
});
