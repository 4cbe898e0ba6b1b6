import { afterAll, describe, expect, it } from 'vitest';
import { tempDb } from '../../test/helpers/test-app.ts';
import type { Principal } from '../env.ts';
import { ThreadStore } from './thread-store.ts';

const temp = await tempDb();
afterAll(() => temp.cleanup());
const owner: Principal = { id: 'key-1', kind: 'api-key', projectId: 'p1' };

describe('ThreadStore', () => {
  it('appends after the messages a round read; another writer in between is a 409 thread_conflict', async () => {
    const store = new ThreadStore(temp.db);
    const { id } = await store.create(owner);
    await store.append(id, [{ role: 'user', content: 'a' }], { after: 0 });
    // Two processes read the same one message; the first to write wins, the second would follow unseen history.
    await store.append(id, [{ role: 'assistant', content: 'b' }], { after: 1 });
    await expect(store.append(id, [{ role: 'assistant', content: 'c' }], { after: 1 })).rejects.toMatchObject({
      status: 409,
      code: 'thread_conflict',
    });
    expect((await store.messages(id, owner)).map((m) => m.content)).toEqual(['a', 'b']);
    expect(() => store.checkRoom(id, 2_000)).toThrow(/is full/);
  });
});
