import { Hono } from 'hono';
import { z } from 'zod';
import { AppError } from '../../shared/errors.ts';
import { PLANNED_AI_TOOLS, type AiTool } from '../ai/ai-tool.ts';
import type { AppEnv } from '../env.ts';
import { validate } from '../validate.ts';

const ProcessRequest = z.object({
  tool: z.string().min(1).max(64),
  config: z.record(z.string(), z.unknown()).default({}),
});

/**
 * `POST /v1/ai/process` `{tool, config}`: the unified endpoint. Each tool answers as its own endpoint does, from
 * the same registry entry. An unknown tool is a 400 listing the known ones; a config that does not validate is a
 * 400 naming `config.<field>`; a tool of the document this deployment cannot serve yet is a 503 saying so.
 */
export function aiProcessRoutes(tools: Readonly<Record<string, AiTool>>) {
  const known = [...Object.keys(tools), ...Object.keys(PLANNED_AI_TOOLS).filter((t) => !tools[t])];
  return new Hono<AppEnv>().post('/ai/process', validate('json', ProcessRequest), async (c) => {
    const { tool, config } = c.req.valid('json');
    const entry = Object.hasOwn(tools, tool) ? tools[tool] : undefined;
    if (!entry) {
      if (Object.hasOwn(PLANNED_AI_TOOLS, tool)) {
        throw new AppError(503, `tool: ${PLANNED_AI_TOOLS[tool]} is not available on this deployment yet`, {
          code: 'tool_unavailable',
          param: 'tool',
        });
      }
      throw new AppError(400, `tool: unknown tool "${tool}"; use one of ${known.join(', ')}`, {
        code: 'invalid_value',
        param: 'tool',
      });
    }
    const parsed = entry.config.safeParse(config);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const path = ['config', ...(issue?.path ?? []).map(String)].join('.');
      throw new AppError(400, `${path}: ${issue?.message ?? 'invalid value'}`, { code: 'invalid_value', param: path });
    }
    try {
      return await entry.handle(c, parsed.data);
    } catch (err) {
      throw inConfig(err);
    }
  });
}

/**
 * A 400 about a field of the tool's own request (`image`, found bad where it is used, e.g. on a runner) names
 * it as the unified endpoint's caller wrote it: `config.image`.
 */
function inConfig(err: unknown): unknown {
  if (!(err instanceof AppError) || err.status !== 400 || !err.param || err.param.startsWith('config.')) return err;
  const param = `config.${err.param}`;
  const message = err.message.startsWith(`${err.param}:`) ? `config.${err.message}` : err.message;
  return new AppError(400, message, { code: err.code, param, headers: err.headers, cause: err });
}
