import { Hono } from 'hono';
import { AgentRequest } from '../../shared/schemas/exec.ts';
import type { AppDeps, AppEnv } from '../env.ts';
import { AgentStore } from '../exec/agent-store.ts';
import { validate } from '../validate.ts';

/**
 * `/llm-exec/agents`: the agents a `callable` tool runs (model, instructions, tools, llmConfig, config),
 * owned by the caller's project. `{id}` takes the id or the slug.
 */
export function execAgentRoutes(deps: Pick<AppDeps, 'db'>) {
  const agents = new AgentStore(deps.db);
  return new Hono<AppEnv>()
    .post('/agents', validate('json', AgentRequest), async (c) =>
      c.json(await agents.create(c.get('principal'), c.req.valid('json')), 201),
    )
    .get('/agents', async (c) => c.json({ object: 'list', data: await agents.list(c.get('principal')) }))
    .get('/agents/:id', async (c) => c.json(await agents.get(c.req.param('id'), c.get('principal'))))
    .put('/agents/:id', validate('json', AgentRequest), async (c) =>
      c.json(await agents.replace(c.req.param('id'), c.get('principal'), c.req.valid('json'))),
    )
    .delete('/agents/:id', async (c) => {
      const id = c.req.param('id');
      await agents.delete(id, c.get('principal'));
      return c.json({ id, deleted: true });
    });
}
