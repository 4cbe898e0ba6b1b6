import { Hono } from 'hono';
import { z } from 'zod';
import type { AppDeps, AppEnv } from '../env.ts';
import { ThreadStore } from '../exec/thread-store.ts';
import { validate } from '../validate.ts';

const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  /** The previous page's `last_id`: the threads after it (older). */
  after: z.string().min(1).max(128).optional(),
});

const CreateThread = z.object({ metadata: z.record(z.string().max(64), z.unknown()).optional() }).default({});

/**
 * `/llm-exec/threads`: the caller's threads (its project's, or its own without a project). `POST` starts an
 * empty one, `GET` lists them newest first, `GET /{id}` returns one with its messages, `DELETE /{id}`
 * removes it. Another project's thread is a 404.
 */
export function execThreadRoutes(deps: Pick<AppDeps, 'db'>) {
  const threads = new ThreadStore(deps.db);
  return new Hono<AppEnv>()
    .post('/threads', validate('json', CreateThread), async (c) => {
      const { metadata } = c.req.valid('json');
      return c.json(await threads.create(c.get('principal'), metadata), 201);
    })
    .get('/threads', validate('query', ListQuery), async (c) => {
      const { limit, after } = c.req.valid('query');
      return c.json({ object: 'list', ...(await threads.list(c.get('principal'), { limit, after })) });
    })
    .get('/threads/:id', async (c) => {
      const owner = c.get('principal');
      const id = c.req.param('id');
      const [thread, messages] = await Promise.all([threads.get(id, owner), threads.messages(id, owner)]);
      return c.json({ ...thread, messages });
    })
    .delete('/threads/:id', async (c) => {
      const id = c.req.param('id');
      await threads.delete(id, c.get('principal'));
      return c.json({ id, deleted: true });
    });
}
