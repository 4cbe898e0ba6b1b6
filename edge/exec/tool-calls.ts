import { AsyncQueue } from '../../shared/async-queue.ts';
import type { ToolCall } from '../../shared/schemas/chat.ts';
import type { ExecUsage } from '../../shared/schemas/exec.ts';
import type { GuardedFetch } from '../net/ssrf.ts';
import { resultText } from './exec-messages.ts';
import type { RoundEvent } from './round-events.ts';
import type { ToolOutput } from './tool.ts';
import type { OfferedTool } from './toolset.ts';

/** Per tool call unless `config.tool_timeout_ms` says otherwise. */
export const DEFAULT_TOOL_TIMEOUT_MS = 30_000;
/** Characters of one tool result the model reads; the rest is cut with a note. */
export const MODEL_RESULT_CHARS = 32_000;
/** Characters of one tool result a `tool_result` event carries. */
export const EVENT_RESULT_CHARS = 256 * 1024;

/** A server-side call the round runs: the model's call, its tool and its checked arguments. */
export interface PlannedCall {
  call: ToolCall;
  tool: OfferedTool;
  args: Record<string, unknown>;
}

/** A tool's answer as the model reads it: the tool message appended to the history. */
export interface Answered {
  id: string;
  name: string;
  text: string;
}

export function addUsage(total: ExecUsage, usage: { prompt_tokens: number; completion_tokens: number }): void {
  total.prompt_tokens += usage.prompt_tokens;
  total.completion_tokens += usage.completion_tokens;
  total.total_tokens = total.prompt_tokens + total.completion_tokens;
}

export function capped(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}\n[truncated: ${text.length - limit} more characters]`;
}

/** Anything thrown, as an Error (a signal's reason may be a string). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export interface RunCallsOptions {
  timeoutMs: number;
  signal: AbortSignal;
  fetch: GuardedFetch;
  mark: <E extends RoundEvent>(event: E) => E;
  answer: (answered: Answered) => void;
  /** The round's usage, which tools that spend tokens add to. */
  usage: ExecUsage;
}

/**
 * Runs server-side calls at once: every `tool_call` event first (in the model's order), then each
 * `tool_result` as it completes (the id pairs them), a failure also as an `error` event.
 */
export async function* runCalls(
  planned: PlannedCall[],
  { timeoutMs, signal, fetch, mark, answer, usage }: RunCallsOptions,
): AsyncGenerator<RoundEvent> {
  for (const { call, args } of planned)
    yield mark({ type: 'tool_call', id: call.id, tool_name: call.function.name, args });
  const queue = new AsyncQueue<RoundEvent>();
  const answers: (Answered | undefined)[] = [];
  let left = planned.length;
  const settle = ({ call }: PlannedCall, i: number, output: ToolOutput) => {
    if (output.usage) addUsage(usage, output.usage);
    const text = output.modelText ?? resultText(output.result);
    answers[i] = { id: call.id, name: call.function.name, text: capped(text, MODEL_RESULT_CHARS) };
    const result =
      output.modelText === undefined && text.length > EVENT_RESULT_CHARS
        ? capped(text, EVENT_RESULT_CHARS)
        : output.result;
    const error = output.isError ? { is_error: true } : {};
    queue.push(mark({ type: 'tool_result', id: call.id, tool_name: call.function.name, result, ...error }));
    if (output.isError) {
      const message = `Tool ${call.function.name} failed: ${capped(text, 1000)}`;
      queue.push(mark({ type: 'error', error: { message, code: 'TOOL_ERROR' }, tool_call_id: call.id }));
    }
  };
  planned.forEach((planned, i) => {
    const { call, tool, args } = planned;
    void execute(tool, args, call.id, tool.timeoutMs ?? timeoutMs, signal, fetch, (e) => queue.push(e))
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
