import { ChatCompletionRequest } from '../../shared/schemas/chat.ts';
import type { AppDeps } from '../env.ts';
import type { ExecDeps } from '../exec/round-services.ts';
import { chatHandler } from '../routes/chat.ts';
import { aiTool, type AiTool } from './ai-tool.ts';
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
    ...webTools(deps.exec.fetch, deps.logger),
  };
}
