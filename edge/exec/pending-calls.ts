import { AppError } from '../../shared/errors.ts';
import type { ToolCall } from '../../shared/schemas/chat.ts';
import type { ExecMessage, McpApprovalResponse } from '../../shared/schemas/exec.ts';
import { documentArguments } from './exec-messages.ts';
import type { PlannedCall } from './tool-calls.ts';
import type { ToolSet } from './toolset.ts';

/** A call the previous round left waiting: run it now, or answer it with the client's refusal. */
export type Pending = PlannedCall & { refused?: string };

/**
 * The calls of the history's last assistant message that no tool message answers yet: MCP calls the
 * client approved or refused (`approvals`, OpenAI's `mcp_approval_response`), and server-side calls a
 * mixed round left. A client-side call without its `tool_response`, or a call of a tool this round does not
 * offer, is a 400.
 */
export function pendingCalls(messages: readonly ExecMessage[], toolset: ToolSet): Pending[] {
  let last = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if ((m.role === 'assistant' || m.role === 'tool_request') && m.tool_calls?.length) {
      last = i;
      break;
    }
    if (m.role === 'assistant') break;
  }
  if (last < 0) return [];
  const answered = new Set(
    messages
      .slice(last + 1)
      .filter((m) => m.role === 'tool_response' || m.role === 'tool')
      .map((m) => m.tool_call_id),
  );
  const approvals = new Map<string, McpApprovalResponse>();
  for (const m of messages) for (const a of m.approvals ?? []) approvals.set(a.approval_request_id, a);

  const pending: Pending[] = [];
  for (const call of messages[last]!.tool_calls!) {
    if (answered.has(call.id)) continue;
    const field = `messages.${last}.tool_calls`;
    const tool = toolset.byName.get(call.name);
    if (!tool) {
      throw new AppError(
        400,
        `${field}: call ${call.id} names "${call.name}", which none of this round's tools offers`,
        {
          param: field,
        },
      );
    }
    const toolCall: ToolCall = {
      id: call.id,
      type: 'function',
      function: {
        name: call.name,
        arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments),
      },
    };
    const args = documentArguments(call.arguments);
    if (!tool.run) {
      throw new AppError(400, `${field}: call ${call.id} (${call.name}) has no tool_response message answering it`, {
        param: field,
      });
    }
    const approval = approvals.get(call.id);
    if (tool.approval?.required && !approval) {
      throw new AppError(
        400,
        `${field}: call ${call.id} (${call.name}) needs an mcp_approval_response with approval_request_id "${call.id}"`,
        { param: field },
      );
    }
    if (approval && !approval.approve) {
      const reason = approval.reason ? `: ${approval.reason}` : '';
      pending.push({ call: toolCall, tool, args, refused: `The user refused this call${reason}` });
    } else pending.push({ call: toolCall, tool, args });
  }
  return pending;
}
