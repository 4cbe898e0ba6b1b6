import { AppError } from '../../../shared/errors.ts';
import type { CallableTool, ExecConfig, LlmConfig, ToolDefinition } from '../../../shared/schemas/exec.ts';
import type { ExecTool, ToolOutput, ToolRunContext } from '../tool.ts';

/** Sub-rounds inside sub-rounds: an agent may call an agent that calls an agent, no deeper. */
export const MAX_AGENT_DEPTH = 3;

/** A stored agent as a `callable` tool runs it. */
export interface StoredAgent {
  id: string;
  slug: string;
  name: string;
  description?: string | null;
  model: string;
  instructions?: string | null;
  tools?: ToolDefinition[] | null;
  llmConfig?: LlmConfig | null;
  config?: ExecConfig | null;
}

/** Where the round finds agents: the caller's project only. */
export type FindAgent = (idOrSlug: string) => Promise<StoredAgent | null>;

/** Runs `agent` as a sub-round on `input`; its events go into the parent's stream through `context.emit`. */
export type RunAgent = (agent: StoredAgent, input: string, context: ToolRunContext) => Promise<ToolOutput>;

const PARAMETERS = {
  type: 'object',
  properties: { input: { type: 'string', description: 'The task or question for the agent, self-contained.' } },
  required: ['input'],
};

/**
 * The `callable` adapter: the agent named by `callable_id` (id or slug, in the caller's project; unknown → 400)
 * as one function taking `input`. `ancestors` are the agents already running above this round: calling one
 * of them again (a cycle), or going deeper than MAX_AGENT_DEPTH, is a tool error the model reads.
 */
export function callableAdapter({
  find,
  run,
  ancestors,
}: {
  find: FindAgent;
  run: RunAgent;
  ancestors: readonly string[];
}) {
  return async (definition: CallableTool): Promise<ExecTool[]> => {
    const agent = await find(definition.callable_id);
    if (!agent) {
      throw new AppError(400, `callable_id: no agent "${definition.callable_id}" in this project`, {
        code: 'agent_not_found',
      });
    }
    return [
      {
        name: definition.name ?? agent.slug,
        description: definition.description ?? agent.description ?? `Runs the agent "${agent.name}" on a task.`,
        parameters: PARAMETERS,
        // The agent's own round limit (plus a moment to end cleanly), else the round's tool timeout.
        ...(agent.config?.timeout_ms ? { timeoutMs: agent.config.timeout_ms + 1_000 } : {}),
        run: async (args, context) => {
          if (ancestors.includes(agent.id)) {
            const chain = [...ancestors, agent.id].join(' → ');
            return {
              result: `Error: agent "${agent.slug}" is already running above this call (${chain})`,
              isError: true,
            };
          }
          if (ancestors.length >= MAX_AGENT_DEPTH) {
            return { result: `Error: agents may nest at most ${MAX_AGENT_DEPTH} deep`, isError: true };
          }
          return run(agent, String(args.input ?? ''), context);
        },
      },
    ];
  };
}
