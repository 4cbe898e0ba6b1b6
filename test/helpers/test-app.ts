import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../edge/app.ts';
import { ApiKeyStore } from '../../edge/auth/api-keys.ts';
import { TokenVerifier, type TokenConfig } from '../../edge/auth/tokens.ts';
import type { AnonymousPolicy, AppDeps } from '../../edge/env.ts';
import { SessionStore } from '../../edge/sessions/session-store.ts';
import { createDb, prepareFileDb, type Db } from '../../drizzle/db.ts';
import { applyMigrations } from '../../drizzle/migrate.ts';
import type { Inference } from '../../shared/inference.ts';
import { createLogger } from '../../shared/log.ts';
import type { Catalog } from '../../shared/schemas/catalog.ts';
import { LlmEngine } from '../../runner/llm/llm-engine.ts';
import { sharedModelHost } from '../../runner/host/shared-host.ts';
import { LocalInference } from '../../runner/local-inference.ts';
import { ClipEngine } from '../../runner/vision/clip/clip-engine.ts';
import { TtsEngine } from '../../runner/speech/tts-engine.ts';
import { DiffusionEngine } from '../../runner/vision/diffusion/diffusion-engine.ts';
import { OcrEngine } from '../../runner/vision/ocr/ocr-engine.ts';
import type { DownloadsOptions } from '../../runner/models/downloader.ts';
import { modelFiles } from '../../runner/models/model-files.ts';
import { TINY_CATALOG } from './tiny-models.ts';

export { TINY_CATALOG };

/** An LLM engine over the tiny generated models (or `models`): 1 thread, 2 sequences, never unloaded. */
export function tinyEngine(
  models: Catalog['models'] = TINY_CATALOG.models,
  files: DownloadsOptions = { modelsDir: tmpdir() },
): LlmEngine {
  return new LlmEngine({ models, files: modelFiles(files), threads: 1, parallel: 2, keepAliveMs: -1 });
}

/**
 * The local engines over the tiny generated models and the real PaddleOCR models (TINY_CATALOG), sharing one
 * model host as in production: LLMs with 1 thread and 2 sequences, OCR with 1 thread; nothing unloaded.
 */
export function localTestInference(
  runnerId = 'embedded',
  catalog: Catalog = TINY_CATALOG,
  files: DownloadsOptions = { modelsDir: tmpdir() },
): LocalInference {
  const host = sharedModelHost({ models: catalog.models, files: modelFiles(files), keepAliveMs: -1 });
  const llm = new LlmEngine({ models: catalog.models, files: modelFiles(files), host, threads: 1, parallel: 2 });
  const [ocr, clip] = [new OcrEngine({ host, threads: 1 }), new ClipEngine({ host, threads: 1 })];
  const diffusion = new DiffusionEngine({ host, threads: 1 });
  const tts = new TtsEngine({ modelsDir: files.modelsDir });
  return new LocalInference({ catalog, runnerId, llm, ocr, clip, diffusion, tts });
}

/** A fresh migrated libSQL file in a temp folder. */
export async function tempDb(): Promise<{ db: Db; dir: string; url: string; cleanup(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'edgerunner-test-'));
  const url = `file:${join(dir, 'test.db')}`;
  const db = createDb({ url });
  await prepareFileDb(db);
  await applyMigrations(db);
  return { db, dir, url, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TestAppOptions {
  db?: Db;
  inference?: Inference;
  anonymous?: AnonymousPolicy;
  tokens?: TokenConfig;
  keyCacheTtlMs?: number;
  maxBodyBytes?: number;
  extra?: Partial<AppDeps>;
}

/** The real app over a temp database and the local engines, for `app.request()` tests. */
export async function testApp(options: TestAppOptions = {}) {
  const temp = options.db ? undefined : await tempDb();
  const db = options.db ?? temp!.db;
  const deps: AppDeps = {
    db,
    inference: options.inference ?? localTestInference(),
    apiKeys: new ApiKeyStore(db, { cacheTtlMs: options.keyCacheTtlMs ?? 5_000 }),
    tokens: new TokenVerifier(db, options.tokens ?? {}),
    sessions: new SessionStore(db),
    anonymous: options.anonymous ?? 'when-no-keys',
    logger: createLogger('silent'),
    maxBodyBytes: options.maxBodyBytes,
    ...options.extra,
  };
  return { app: createApp(deps), deps, db, cleanup: () => temp?.cleanup() };
}
