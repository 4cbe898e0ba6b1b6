import { Hono } from 'hono';
import type { AiTool } from '../ai/ai-tool.ts';
import type { AppEnv } from '../env.ts';
import { validate } from '../validate.ts';

/** `/v1/images/*`: each route is its `/v1/ai/process` tool's own entry (same schema, same handler). */
export function imageRoutes(tools: Readonly<Record<string, AiTool>>) {
  const app = new Hono<AppEnv>();
  const routes: [path: string, tool: string][] = [['/images/ocr', 'ocr']];
  for (const [path, name] of routes) {
    const tool = tools[name];
    if (tool) app.post(path, validate('json', tool.config), (c) => tool.handle(c, c.req.valid('json')));
  }
  return app;
}
