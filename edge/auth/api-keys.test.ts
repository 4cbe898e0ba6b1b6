import { eq } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { apiKeys } from '../../drizzle/schema.ts';
import { tempDb } from '../../test/helpers/test-app.ts';
import { ApiKeyStore } from './api-keys.ts';

describe('API key verification cache', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => cleanups.splice(0).forEach((f) => f()));

  it('random keys do not push a valid key out of the cache', async () => {
    const temp = await tempDb();
    cleanups.push(temp.cleanup);
    const store = new ApiKeyStore(temp.db, { cacheTtlMs: 60_000 });
    const { key, id } = await store.create('p');
    expect(await store.verify(key)).toMatchObject({ projectId: expect.any(String) });
    // Revoked behind the store's back: only a cache hit still answers with the principal.
    await temp.db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, id)).run();
    for (let i = 0; i < 10_050; i++) {
      expect(await store.verify(`apiKey.${900_000 + i}.${'x'.repeat(24)}`)).toBeNull();
    }
    expect(await store.verify(key)).not.toBeNull();
  }, 60_000);
});
