import type { ExecFinishReason, ExecMessage, ExecUsage, McpApprovalRequest } from '../../shared/schemas/exec.ts';

/** Nested events (a `callable` sub-round's) say whose they are: the parent's call id and the agent. */
export interface Nesting {
  nested?: { call_id: string; agent: string; depth: number };
}

/**
 * The events of `/llm-exec/round/stream`, in the order they happen (the document's `start`, `chunk`,
 * `tool_call`, `tool_result`, `end`, `error`, plus OpenAI Responses' `mcp_approval_request`).
 */
export type RoundEvent = Nesting &
  (
    | { type: 'start'; message: { role: 'assistant'; model: string; thread_id?: string } }
    | { type: 'chunk'; content: string }
    | { type: 'tool_call'; id: string; tool_name: string; args: Record<string, unknown> }
    | { type: 'tool_result'; id: string; tool_name: string; result: unknown; is_error?: boolean }
    | ({ type: 'mcp_approval_request' } & Omit<McpApprovalRequest, 'type'>)
    | { type: 'error'; error: { message: string; code: string }; statusCode?: number; tool_call_id?: string }
    | {
        type: 'end';
        usage: ExecUsage;
        finish_reason: ExecFinishReason;
        message: AssistantMessage;
        /** Every message this round added (assistant tool requests, tool responses, the answer), to append to a history. */
        messages: ExecMessage[];
        thread_id?: string;
        approval_requests?: McpApprovalRequest[];
      }
  );

export interface AssistantMessage {
  role: 'assistant';
  content: string | null;
  tool_calls?: { id: string; name: string; arguments: Record<string, unknown> }[];
}

/** `POST /llm-exec/round`'s answer: the document's `message`, `usage`, `finish_reason`, plus what the round did. */
export interface RoundResponse {
  message: AssistantMessage;
  usage: ExecUsage;
  finish_reason: ExecFinishReason;
  messages: ExecMessage[];
  thread_id?: string;
  approval_requests?: McpApprovalRequest[];
  /** Tool failures and other non-fatal errors of the round (the model read them as tool results). */
  errors?: { message: string; code: string; tool_call_id?: string }[];
}

/** Collects a round's events into the non-streaming answer (nested events are the sub-round's own business). */
export async function collectRound(events: AsyncIterable<RoundEvent>): Promise<RoundResponse> {
  const errors: NonNullable<RoundResponse['errors']> = [];
  for await (const event of events) {
    if (event.nested) continue;
    if (event.type === 'error') errors.push({ ...event.error, tool_call_id: event.tool_call_id });
    if (event.type === 'end') {
      const { usage, finish_reason, message, messages, thread_id, approval_requests } = event;
      return {
        message,
        usage,
        finish_reason,
        messages,
        ...(thread_id ? { thread_id } : {}),
        ...(approval_requests?.length ? { approval_requests } : {}),
        ...(errors.length ? { errors } : {}),
      };
    }
  }
  throw new Error('round ended without an end event');
}
