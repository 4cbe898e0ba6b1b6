import { z } from 'zod';
import { AppError } from '../../shared/errors.ts';
import type { Inference } from '../../shared/inference.ts';
import { ChatCompletionRequest } from '../../shared/schemas/chat.ts';
import type { AppDeps } from '../env.ts';
import type { ExecDeps } from '../exec/round-services.ts';
import { chatHandler } from '../routes/chat.ts';
import { aiTool, type AiTool } from './ai-tool.ts';
import { speechTools } from './speech-tools.ts';
import { visionTools } from './vision-tools.ts';
import { webTools } from './web-tools.ts';

/**
 * The registry of `POST /v1/ai/process`: tool name → config schema and handler. `llm` is the handler and schema
 * of `/v1/chat/completions` itself (the session's conversation and model, `stream`, `system`); the web tools
 * share the agent API's SSRF-guarded fetch.
 */
export function aiTools(
  deps: Pick<AppDeps, 'inference' | 'sessions' | 'logger'> & { exec: ExecDeps },
): Record<string, AiTool> {
  return {
    llm: aiTool(ChatCompletionRequest, chatHandler(deps)),
    ...webTools(deps.exec.fetch, deps.logger, { youtubeOrigin: deps.exec.youtubeOrigin }),
    ...visionTools(deps),
    ...speechTools(deps),
    system_metrics: aiTool(z.object({}), async (c) =>
      c.json(await systemMetricsAnswer(deps.inference, c.req.raw.signal)),
    ),
  };
}

/**
 * One reading of `system_metrics`: the document's object (cpu, memory, gpu) with the runner it came from;
 * behind an edge with several runners, every runner's reading under `runners` too.
 */
async function systemMetricsAnswer(inference: Inference, signal: AbortSignal) {
  const samples = await inference.systemMetrics({ signal });
  const [first] = samples;
  if (!first) throw new AppError(503, 'No runner answered with system metrics', { code: 'no_runner' });
  const tagged = samples.map(({ runner, sample }) => ({ ...sample, runner }));
  return samples.length > 1 ? { ...tagged[0], runners: tagged } : tagged[0];
}
