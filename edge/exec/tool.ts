import type { GuardedFetch } from '../net/ssrf.ts';
import type { RoundEvent } from './round-events.ts';

/** What a tool run returns: JSON the model reads (stringified when not a string), and whether it failed. */
export interface ToolOutput {
  /** The result as the client sees it in `tool_result` events (JSON). */
  result: unknown;
  /** True when the call failed: the model still reads `result` (an error text), and the stream gets an error event. */
  isError?: boolean;
  /**
   * What the model reads instead of `result` (a generated image is for the client, not the model's context);
   * with it, the `tool_result` event carries `result` whole (our own output, bounded by its producer).
   */
  modelText?: string;
  /** Model tokens the tool itself spent (a sub-agent's round): added to the round's usage. */
  usage?: { prompt_tokens: number; completion_tokens: number };
}

/** What every tool run is handed. */
export interface ToolRunContext {
  /** Aborted when the client leaves, the round times out, or the tool's own timeout passes. */
  signal: AbortSignal;
  /** The one SSRF-guarded fetch for user-supplied URLs. */
  fetch: GuardedFetch;
  /** The call's id (what its tool_call and tool_result events carry). */
  callId?: string;
  /** Sends events into the round's stream (a sub-round's, marked as nested). */
  emit?: (event: RoundEvent) => void;
}

/** What resolving a tool definition is handed (listing MCP tools, parsing an OpenAPI document). */
export interface ToolResolveContext {
  signal: AbortSignal;
  fetch: GuardedFetch;
}

/**
 * One function the model may call, as an adapter resolved it from a tool definition of the request.
 * `name` is the adapter's own name (an operationId, an MCP tool name); the round makes the names it offers
 * unique and valid (`^[a-zA-Z0-9_-]{1,64}$`) and maps them back (see `tool-names.ts`).
 */
export interface ExecTool {
  name: string;
  description?: string;
  /** JSON schema of the arguments object. */
  parameters: Record<string, unknown>;
  /** Server-side executor; absent for client-side tools (`custom`), which end the round with `tool_calls`. */
  run?: (args: Record<string, unknown>, context: ToolRunContext) => Promise<ToolOutput>;
  /** MCP tools: where approval is asked for (`server_label`, the server's tool name) and whether this one needs it. */
  approval?: { serverLabel: string; toolName: string; required: boolean };
  /** Per-call time limit in ms (default: the round's tool timeout). */
  timeoutMs?: number;
}
