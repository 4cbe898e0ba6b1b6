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
  ToolDefinition,
} from '../../shared/schemas/exec.ts';
import type { GuardedFetch } from '../net/ssrf.ts';
import { documentArguments, toChatMessages } from './exec-messages.ts';
import type { AssistantMessage, Nesting, RoundEvent } from './round-events.ts';
import { pendingCalls } from './pending-calls.ts';
import { checkArguments } from './tool-arguments.ts';
import { addUsage, asError, DEFAULT_TOOL_TIMEOUT_MS, runCalls, type Answered, type PlannedCall } from './tool-calls.ts';
import { resolveToolSet, type ToolAdapters, type ToolSet } from './toolset.ts';

/** Model calls in a round unless `config.max_loops` says otherwise (the document's default). */
export const DEFAULT_MAX_LOOPS = 10;

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

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error
    ? reason
    : new DOMException(String(reason ?? 'The operation was aborted'), 'AbortError');
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
    /** How server-side tool calls run, the same for the pre-approved ones and the model's. */
    const runOptions = { timeoutMs: toolTimeoutMs, signal, fetch: services.fetch, mark, answer: answerTool, usage };
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
      if (planned.length) yield* runCalls(planned, runOptions);
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
      if (server.length) yield* runCalls(server, runOptions);
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
