import { Hono } from 'hono';
import type { AiTool } from '../ai/ai-tool.ts';
import type { AppDeps, AppEnv } from '../env.ts';
import { validate } from '../validate.ts';

/**
 * `/v1/images/*`: `GET /images/models` lists the catalog's image generation models (the document's
 * `{"models": [...]}`); each other route is its `/v1/ai/process` tool's own entry (same schema, same handler).
 */
export function imageRoutes(tools: Readonly<Record<string, AiTool>>, deps: Pick<AppDeps, 'inference'>) {
  const app = new Hono<AppEnv>();
  app.get('/images/models', async (c) => {
    const models = await deps.inference.listModels({ signal: c.req.raw.signal });
    return c.json({ models: models.filter((m) => m.kind === 'image').map((m) => m.id) });
  });
  const routes: [path: string, tool: string][] = [
    ['/images/ocr', 'ocr'],
    ['/images/analyze', 'image_analysis'],
    ['/images/generate', 'image_generation'],
    ['/images/refine', 'image_refinement'],
  ];
  for (const [path, name] of routes) {
    const tool = tools[name];
    if (tool) app.post(path, validate('json', tool.config), (c) => tool.handle(c, c.req.valid('json')));
  }
  return app;
}
