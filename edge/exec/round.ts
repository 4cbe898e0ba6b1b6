import { AsyncQueue } from '../../shared/async-queue.ts';
import { AppError } from '../../shared/errors.ts';
import type { CallOptions, Inference } from '../../shared/inference.ts';
import type { ChatEvent, ChatMessage, ToolCall } from '../../shared/schemas/chat.ts';
import type {
  ExecConfig,
  ExecFinishReason,
  ExecMessage,
  ExecUsage,
  LlmConfig,
  McpApprovalRequest,
  McpApprovalResponse,
  ToolDefinition,
} from '../../shared/schemas/exec.ts';
import type { GuardedFetch } from '../net/ssrf.ts';
import { documentArguments, resultText, toChatMessages } from './exec-messages.ts';
import type { AssistantMessage, Nesting, RoundEvent } from './round-events.ts';
import { checkArguments } from './tool-arguments.ts';
import type { ToolOutput } from './tool.ts';
import { resolveToolSet, type OfferedTool, type ToolAdapters, type ToolSet } from './toolset.ts';

/** Model calls in a round unless `config.max_loops` says otherwise (the document's default). */
export const DEFAULT_MAX_LOOPS = 10;
/** Per tool call unless `config.tool_timeout_ms` says otherwise. */
export const DEFAULT_TOOL_TIMEOUT_MS = 30_000;
/** Characters of one tool result the model reads; the rest is cut with a note. */
export const MODEL_RESULT_CHARS = 32_000;
/** Characters of one tool result a `tool_result` event carries. */
export const EVENT_RESULT_CHARS = 256 * 1024;

/** What a round runs: the conversation so far (a thread's and the request's messages) and its settings. */
export interface RoundSetup {
  model: string;
  messages: readonly ExecMessage[];
  tools?: readonly ToolDefinition[];
  instructions?: string;
  llmConfig?: LlmConfig;
  config?: ExecConfig;
  threadId?: string;
}

/** What a round runs on. */
export interface RoundServices {
  inference: Inference;
  /** The model calls' options (session, project, runner affinity); the round adds its own signal. */
  call: CallOptions & { sessionId: string };
  fetch: GuardedFetch;
  adapters: ToolAdapters;
  /** The client's: aborted when it leaves. */
  signal: AbortSignal;
  /** Set on a sub-round (`callable`): every event it emits carries it. */
  nesting?: Nesting['nested'];
}

const partialMessages = new WeakMap<object, ExecMessage[]>();

/** The messages a failed round had added before `err` ended it (tool calls that already ran), if any. */
export function messagesBeforeFailure(err: unknown): ExecMessage[] | undefined {
  return typeof err === 'object' && err !== null ? partialMessages.get(err) : undefined;
}

/** What the round's own deadline aborts with (an Error: anything else thrown would escape Hono's error handler). */
class RoundTimeout extends Error {
  constructor(ms: number) {
    super(`the round's timeout_ms (${ms} ms) passed`);
    this.name = 'TimeoutError';
  }
}

interface PlannedCall {
  call: ToolCall;
  tool: OfferedTool;
  args: Record<string, unknown>;
}

/** A tool's answer as the model reads it: the tool message appended to the history. */
interface Answered {
  id: string;
  name: string;
  text: string;
}

function addUsage(total: ExecUsage, usage: { prompt_tokens: number; completion_tokens: number }): void {
  total.prompt_tokens += usage.prompt_tokens;
  total.completion_tokens += usage.completion_tokens;
  total.total_tokens = total.prompt_tokens + total.completion_tokens;
}

function capped(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}\n[truncated: ${text.length - limit} more characters]`;
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error
    ? reason
    : new DOMException(String(reason ?? 'The operation was aborted'), 'AbortError');
}

/** Anything thrown, as an Error (a signal's reason may be a string). */
function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

const TOOLS_REFUSED = /does not support (tools|tool calling|function calling|functions)|tools? (are|is) not supported/i;

/** A model (or its provider) refusing tools is the document's 400 `This model does not support tools`. */
function toolsRefusal(err: unknown): never {
  if (
    err instanceof AppError &&
    err.status === 400 &&
    (err.code === 'tools_unsupported' || TOOLS_REFUSED.test(err.message))
  ) {
    throw new AppError(400, 'This model does not support tools', {
      code: 'tools_unsupported',
      param: 'tools',
      cause: err,
    });
  }
  throw err;
}

/**
 * Runs one round of the agent-execution API as a stream of events: the model is called, the server-side
 * tools it asks for run (in parallel, each with its own timeout and output cap) and their results go back
 * to it, until it answers without calls (`stop`/`length`), asks for client-side tools (`tool_calls`) or
 * approvals (`approval_required`), `max_loops` model calls were made (`max_loops`) or `timeout_ms` passed
 * (`timeout`: it ends with what it has). A failing tool is a result the model reads plus an `error` event.
 *
 * Everything the request got wrong (tools, messages, an unknown model, a provider without a key) throws
 * before the first event, so routes can answer it with an HTTP status.
 */
export async function* runRound(setup: RoundSetup, services: RoundServices): AsyncGenerator<RoundEvent> {
  const { inference, nesting } = services;
  const timeout = new AbortController();
  const limitMs = setup.config?.timeout_ms;
  const timer = limitMs ? setTimeout(() => timeout.abort(new RoundTimeout(limitMs)), limitMs) : null;
  const timedOut = () => timeout.signal.aborted && !services.signal.aborted;
  const signal = AbortSignal.any([services.signal, timeout.signal]);
  const mark = <E extends RoundEvent>(event: E): E => (nesting ? { ...event, nested: nesting } : event);
  const maxLoops = setup.config?.max_loops ?? DEFAULT_MAX_LOOPS;
  const toolTimeoutMs = setup.config?.tool_timeout_ms ?? DEFAULT_TOOL_TIMEOUT_MS;

  async function* timedOutAtOnce(): AsyncGenerator<RoundEvent> {
    yield start();
    const usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
    const message = { role: 'assistant' as const, content: null };
    const thread = setup.threadId ? { thread_id: setup.threadId } : {};
    yield mark({ type: 'end', usage, finish_reason: 'timeout', message, messages: [], ...thread });
  }
  const start = () =>
    mark({
      type: 'start' as const,
      message: { role: 'assistant' as const, model: setup.model, thread_id: setup.threadId },
    });

  const added: ExecMessage[] = [];
  try {
    let toolset: ToolSet;
    try {
      toolset = await resolveToolSet(setup.tools ?? [], services.adapters, { signal, fetch: services.fetch });
    } catch (err) {
      if (!timedOut()) throw asError(err);
      yield* timedOutAtOnce();
      return;
    }
    const history: ChatMessage[] = toChatMessages(setup.messages, {
      instructions: setup.instructions,
      verbosity: setup.llmConfig?.verbosity,
    });
    const continuation = pendingCalls(setup.messages, toolset);
    const usage: ExecUsage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
    /** Tools the model called with invalid arguments in its previous turn (fed back once; twice in a row ends the round). */
    let invalidBefore = new Set<string>();
    const config = setup.llmConfig ?? {};
    const ask = () =>
      inference.chat(
        {
          model: setup.model,
          messages: history,
          temperature: config.temperature,
          topP: config.top_p,
          maxTokens: config.max_completion_tokens,
          presencePenalty: config.presence_penalty,
          frequencyPenalty: config.frequency_penalty,
          seed: config.seed,
          tools: toolset.offered.length ? toolset.offered : undefined,
        },
        { ...services.call, signal },
      );

    // The first model call is accepted before anything streams (an unknown model is an HTTP status).
    let answer: AsyncIterable<ChatEvent> | null = null;
    try {
      if (!continuation.length) answer = await ask().catch(toolsRefusal);
    } catch (err) {
      if (!timedOut()) throw asError(err);
      yield* timedOutAtOnce();
      return;
    }
    yield start();
    for (const failure of toolset.failures) {
      yield mark({
        type: 'error',
        error: { message: failure.error.message, code: 'TOOL_ERROR' },
        statusCode: failure.error.status,
      });
    }

    const answerTool = (answered: Answered) => {
      history.push({ role: 'tool', tool_call_id: answered.id, content: answered.text });
      added.push({ role: 'tool_response', tool_call_id: answered.id, name: answered.name, content: answered.text });
    };
    const end = (finish: ExecFinishReason, message: AssistantMessage, approvals: McpApprovalRequest[] = []) =>
      mark({
        type: 'end' as const,
        usage,
        finish_reason: finish,
        message,
        messages: added,
        ...(setup.threadId ? { thread_id: setup.threadId } : {}),
        ...(approvals.length ? { approval_requests: approvals } : {}),
      });

    if (continuation.length) {
      const planned: PlannedCall[] = [];
      for (const pending of continuation) {
        const { call, refused } = pending;
        if (refused === undefined) {
          planned.push(pending);
          continue;
        }
        yield mark({ type: 'tool_result', id: call.id, tool_name: call.function.name, result: refused });
        answerTool({ id: call.id, name: call.function.name, text: refused });
      }
      if (planned.length)
        yield* runCalls(planned, { timeoutMs: toolTimeoutMs, signal, services, mark, answer: answerTool, usage });
      if (timeout.signal.aborted) {
        yield end('timeout', { role: 'assistant', content: null });
        return;
      }
    }

    for (let loop = 1; ; loop++) {
      let text = '';
      const calls: ToolCall[] = [];
      let finish: ExecFinishReason = 'stop';
      try {
        answer ??= await ask();
        for await (const event of answer) {
          if (event.type === 'text') {
            text += event.text;
            yield mark({ type: 'chunk', content: event.text });
          } else if (event.type === 'tool_call') calls.push(event.call);
          else {
            addUsage(usage, event.usage);
            finish = event.finishReason;
          }
        }
      } catch (err) {
        if (timedOut()) {
          yield end('timeout', { role: 'assistant', content: text || null });
          return;
        }
        throw services.signal.aborted ? abortError(services.signal) : asError(err);
      }
      answer = null;
      // A model stream that a timeout or the client cut may end quietly instead of failing.
      if (timeout.signal.aborted && !services.signal.aborted) {
        yield end('timeout', { role: 'assistant', content: text || null });
        return;
      }
      if (services.signal.aborted) throw abortError(services.signal);

      if (calls.length === 0) {
        const message: AssistantMessage = { role: 'assistant', content: text };
        added.push({ role: 'assistant', content: text });
        yield end(finish === 'tool_calls' ? 'stop' : finish, message);
        return;
      }

      history.push({ role: 'assistant', content: text || null, tool_calls: calls });
      const documented = calls.map((c) => ({
        id: c.id,
        name: c.function.name,
        arguments: documentArguments(c.function.arguments),
      }));
      added.push({ role: 'assistant', content: text || null, tool_calls: documented });

      const server: PlannedCall[] = [];
      const client: ToolCall[] = [];
      const approvals: McpApprovalRequest[] = [];
      const invalidNow = new Set<string>();
      let givenUp: string | undefined;
      for (const call of calls) {
        const tool = toolset.byName.get(call.function.name);
        const checked = tool
          ? checkArguments(call.function.arguments, tool.parameters)
          : { ok: false as const, problem: `there is no tool named "${call.function.name}"` };
        if (!checked.ok) {
          const key = call.function.name;
          const message = `Invalid call of ${key}: ${checked.problem}`;
          invalidNow.add(key);
          if (invalidBefore.has(key))
            givenUp ??= `The model called ${key} with invalid arguments twice: ${checked.problem}`;
          yield mark({ type: 'error', error: { message, code: 'INVALID_TOOL_ARGUMENTS' }, tool_call_id: call.id });
          answerTool({
            id: call.id,
            name: key,
            text: `Error: ${message}. Call it again with arguments that match its schema.`,
          });
          continue;
        }
        if (!tool!.run) client.push(call);
        else if (tool!.approval?.required) {
          approvals.push({
            type: 'mcp_approval_request',
            id: call.id,
            server_label: tool!.approval.serverLabel,
            name: tool!.approval.toolName,
            arguments: JSON.stringify(checked.args),
          });
        } else server.push({ call, tool: tool!, args: checked.args });
      }
      invalidBefore = invalidNow;
      if (givenUp) {
        yield mark({ type: 'error', error: { message: givenUp, code: 'INVALID_TOOL_ARGUMENTS' } });
        yield end('invalid_tool_call', { role: 'assistant', content: text || null });
        return;
      }

      for (const call of client) {
        yield mark({
          type: 'tool_call',
          id: call.id,
          tool_name: call.function.name,
          args: documentArguments(call.function.arguments),
        });
      }
      for (const request of approvals) yield mark({ ...request, type: 'mcp_approval_request' });
      if (server.length)
        yield* runCalls(server, { timeoutMs: toolTimeoutMs, signal, services, mark, answer: answerTool, usage });
      if (timeout.signal.aborted) {
        yield end('timeout', { role: 'assistant', content: text || null });
        return;
      }
      if (services.signal.aborted) throw abortError(services.signal);

      if (client.length || approvals.length) {
        const waiting = new Set([...client.map((c) => c.id), ...approvals.map((a) => a.id)]);
        yield end(
          approvals.length ? 'approval_required' : 'tool_calls',
          {
            role: 'assistant',
            content: text || null,
            tool_calls: documented.filter((c) => waiting.has(c.id)),
          },
          approvals,
        );
        return;
      }
      if (loop >= maxLoops) {
        yield end('max_loops', { role: 'assistant', content: text || null });
        return;
      }
    }
  } catch (err) {
    // What the round did before failing (tool calls already run) stays with the error, for the thread.
    if (added.length && typeof err === 'object' && err !== null) partialMessages.set(err, [...added]);
    throw err;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

interface RunCallsOptions {
  timeoutMs: number;
  signal: AbortSignal;
  services: RoundServices;
  mark: <E extends RoundEvent>(event: E) => E;
  answer: (answered: Answered) => void;
  /** The round's usage, which tools that spend tokens add to. */
  usage: ExecUsage;
}

/**
 * Runs server-side calls at once: every `tool_call` event first (in the model's order), then each
 * `tool_result` as it completes (the id pairs them), a failure also as an `error` event.
 */
async function* runCalls(
  planned: PlannedCall[],
  { timeoutMs, signal, services, mark, answer, usage }: RunCallsOptions,
): AsyncGenerator<RoundEvent> {
  for (const { call, args } of planned)
    yield mark({ type: 'tool_call', id: call.id, tool_name: call.function.name, args });
  const queue = new AsyncQueue<RoundEvent>();
  const answers: (Answered | undefined)[] = [];
  let left = planned.length;
  const settle = ({ call }: PlannedCall, i: number, output: ToolOutput) => {
    if (output.usage) addUsage(usage, output.usage);
    const text = resultText(output.result);
    answers[i] = { id: call.id, name: call.function.name, text: capped(text, MODEL_RESULT_CHARS) };
    const result = text.length > EVENT_RESULT_CHARS ? capped(text, EVENT_RESULT_CHARS) : output.result;
    const error = output.isError ? { is_error: true } : {};
    queue.push(mark({ type: 'tool_result', id: call.id, tool_name: call.function.name, result, ...error }));
    if (output.isError) {
      const message = `Tool ${call.function.name} failed: ${capped(text, 1000)}`;
      queue.push(mark({ type: 'error', error: { message, code: 'TOOL_ERROR' }, tool_call_id: call.id }));
    }
  };
  planned.forEach((planned, i) => {
    const { call, tool, args } = planned;
    void execute(tool, args, call.id, tool.timeoutMs ?? timeoutMs, signal, services.fetch, (e) => queue.push(e))
      .then((output) => settle(planned, i, output))
      // A result that cannot be rendered (circular JSON) is still an answer: the round never hangs on it.
      .catch((err: unknown) => settle(planned, i, { result: `Error: ${asError(err).message}`, isError: true }))
      .finally(() => {
        if (--left === 0) queue.end();
      });
  });
  yield* queue;
  // Tool messages follow the assistant message in the model's order, whatever order they finished in.
  for (const answered of answers) if (answered) answer(answered);
}

/** One tool call with its own time limit; never throws: a failure is an error result. */
async function execute(
  tool: OfferedTool,
  args: Record<string, unknown>,
  callId: string,
  timeoutMs: number,
  round: AbortSignal,
  fetch: GuardedFetch,
  emit: (event: RoundEvent) => void,
): Promise<ToolOutput> {
  const limit = AbortSignal.timeout(timeoutMs);
  const signal = AbortSignal.any([round, limit]);
  try {
    return await tool.run!(args, { signal, fetch, callId, emit });
  } catch (err) {
    if (limit.aborted && !round.aborted) return { result: `Error: timed out after ${timeoutMs} ms`, isError: true };
    if (round.aborted) return { result: 'Error: the round was cancelled', isError: true };
    const message = err instanceof Error ? err.message : String(err);
    return { result: `Error: ${message}`, isError: true };
  }
}

/** A call the previous round left waiting: run it now, or answer it with the client's refusal. */
type Pending = { call: ToolCall; tool: OfferedTool; args: Record<string, unknown>; refused?: string };

/**
 * The calls of the history's last assistant message that no tool message answers yet: MCP calls the
 * client approved or refused (`approvals`, OpenAI's `mcp_approval_response`), and server-side calls a
 * mixed round left. A client-side call without its `tool_response`, or a call of a tool this round does not
 * offer, is a 400.
 */
function pendingCalls(messages: readonly ExecMessage[], toolset: ToolSet): Pending[] {
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
