import type { CallOptions, Inference } from '../../shared/inference.ts';
import type { GuardedFetch } from '../net/ssrf.ts';
import type { Principal } from '../env.ts';
import type { AgentStore } from './agent-store.ts';
import { runRound, type RoundServices } from './round.ts';
import type { RoundEvent } from './round-events.ts';
import type { ToolOutput, ToolRunContext } from './tool.ts';
import { callableAdapter, type StoredAgent } from './tools/callable.ts';
import { imageGenerationAdapter } from './tools/image-generation.ts';
import type { ToolAdapters } from './toolset.ts';

/** What a deployment gives the agent API: the one SSRF-guarded fetch and the adapters of the tool types it serves. */
export interface ExecDeps {
  /** fetch for every user-supplied URL (OpenAPI servers, MCP servers): `createGuardedFetch`. */
  fetch: GuardedFetch;
  /**
   * Adapters by tool type (`mcp`, `openapi`, `websearch`…); `custom`, `kit`, `callable` and `image_generation` are
   * built in.
   */
  adapters: Omit<ToolAdapters, 'callable' | 'image_generation'>;
  /** `YOUTUBE_ORIGIN`: where `youtube_stream` sends InnerTube requests instead of youtube.com; unset: YouTube. */
  youtubeOrigin?: string;
}

export interface RoundServiceOptions {
  inference: Inference;
  exec: ExecDeps;
  agents: AgentStore;
  owner: Principal;
  /** The model calls' options (project, runner affinity, download policy) without a signal. */
  call: CallOptions & { sessionId: string };
  signal: AbortSignal;
  /** Agents running above this round (a sub-round's chain), for cycle and depth checks. */
  ancestors?: readonly string[];
  nesting?: RoundServices['nesting'];
  /** Sub-rounds started so far under the top-level round (shared down the tree). */
  subRounds?: { started: number };
}

/** Sub-agent runs one top-level round may start, all depths together: bounds a model's fan-out. */
export const MAX_SUB_ROUNDS = 32;

/** The services of one round: the deployment's adapters plus `callable`, whose agents run as sub-rounds. */
export function roundServices(options: RoundServiceOptions): RoundServices {
  const { inference, exec, agents, owner, call, signal, ancestors = [], nesting } = options;
  const subRounds = options.subRounds ?? { started: 0 };
  const callable = callableAdapter({
    find: (idOrSlug) => agents.find(idOrSlug, owner),
    run: async (agent, input, context) => {
      if (++subRounds.started > MAX_SUB_ROUNDS)
        return { result: `Error: a round may run at most ${MAX_SUB_ROUNDS} sub-agents`, isError: true };
      return runAgent(agent, input, context, { ...options, ancestors, subRounds });
    },
    ancestors,
  });
  // Image generation runs on the round's own inference (its runners, its download policy).
  const image_generation = imageGenerationAdapter(inference, call);
  return {
    inference,
    call,
    fetch: exec.fetch,
    signal,
    nesting,
    adapters: { ...exec.adapters, callable, image_generation },
  };
}

/**
 * Runs a stored agent as a sub-round on `input`, on a session of its own: its events go into the parent's
 * stream (marked `nested` with the parent's call id, the agent and the depth), its answer is the tool's
 * result and its tokens count in the parent's usage. A sub-round cannot hand client-side calls or approval
 * requests back to the client: that ends it as a tool error.
 */
async function runAgent(
  agent: StoredAgent,
  input: string,
  context: ToolRunContext,
  parent: RoundServiceOptions & { ancestors: readonly string[] },
): Promise<ToolOutput> {
  const depth = parent.ancestors.length + 1;
  const nesting = { call_id: context.callId ?? '', agent: agent.slug, depth };
  const services = roundServices({
    ...parent,
    call: { ...parent.call, sessionId: crypto.randomUUID(), runnerId: null, onRoute: undefined },
    signal: context.signal,
    ancestors: [...parent.ancestors, agent.id],
    nesting,
  });
  const setup = {
    model: agent.model,
    messages: [{ role: 'user' as const, content: input }],
    tools: agent.tools ?? undefined,
    instructions: agent.instructions ?? undefined,
    llmConfig: agent.llmConfig ?? undefined,
    config: agent.config ?? undefined,
  };
  let end: Extract<RoundEvent, { type: 'end' }> | undefined;
  for await (const event of runRound(setup, services)) {
    context.emit?.(event);
    if (event.type === 'end' && event.nested?.depth === depth && event.nested.call_id === nesting.call_id) end = event;
  }
  if (!end) return { result: `Error: agent "${agent.slug}" ended without an answer`, isError: true };
  const { usage, finish_reason: finish, message } = end;
  if (finish === 'tool_calls' || finish === 'approval_required') {
    const what = finish === 'tool_calls' ? 'client-side tool calls' : 'approvals';
    return {
      result: `Error: agent "${agent.slug}" asked for ${what}, which a sub-agent cannot get`,
      isError: true,
      usage,
    };
  }
  const answer = message.content ?? '';
  return finish === 'stop' ? { result: answer, usage } : { result: { answer, finish_reason: finish }, usage };
}
