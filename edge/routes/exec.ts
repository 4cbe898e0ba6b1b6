import { Hono, type Context } from 'hono';
import { AppError } from '../../shared/errors.ts';
import { primed } from '../../shared/primed.ts';
import { RoundRequest, type ExecMessage } from '../../shared/schemas/exec.ts';
import type { AppDeps, AppEnv } from '../env.ts';
import { AgentStore } from '../exec/agent-store.ts';
import { messagesBeforeFailure, runRound } from '../exec/round.ts';
import { collectRound, type RoundEvent } from '../exec/round-events.ts';
import { roundServices, type ExecDeps } from '../exec/round-services.ts';
import { ThreadStore } from '../exec/thread-store.ts';
import { background } from '../middleware/background.ts';
import { toAppError } from '../middleware/errors.ts';
import { sseResponse } from '../sse-response.ts';
import { validate } from '../validate.ts';
import { generationCall } from './chat.ts';

/** Event codes of failures inside `/llm-exec/round/stream` (`{"type":"error","error":{message,code}}`). */
export function streamErrorCode(err: AppError): string {
  if (err.code === 'TOOL_ERROR' || /^[A-Z_]+$/.test(err.code)) return err.code;
  if (err.status === 504 || err.code === 'upstream_timeout') return 'TIMEOUT';
  if (err.status === 429) return 'RATE_LIMITED';
  if (err.status >= 500) return err.code === 'internal_error' ? 'INTERNAL_ERROR' : 'UPSTREAM_ERROR';
  return err.code.toUpperCase();
}

function streamError(err: unknown) {
  const e = toAppError(err);
  return { type: 'error', error: { message: e.message, code: streamErrorCode(e) }, statusCode: e.status };
}

/**
 * Starts a round and waits for its first event, so everything the request got wrong (tools, a model that
 * does not exist or cannot call tools, a provider without a key) is an HTTP status, not a stream error.
 * A `thread_id` continues the stored conversation, `new_thread` starts one; either way the round's
 * messages are appended before its `end` event goes out.
 */
async function startRound(c: Context<AppEnv>, deps: RoundRouteDeps): Promise<AsyncIterable<RoundEvent>> {
  const body = c.req.valid('json' as never) as RoundRequest;
  const owner = c.get('principal');
  if (body.thread_id && body.new_thread) {
    throw new AppError(400, 'new_thread: cannot be used with thread_id', { param: 'new_thread' });
  }
  const stored = body.thread_id ? await deps.threads.messages(body.thread_id, owner) : [];
  if (stored.length + body.messages.length === 0) {
    throw new AppError(400, 'messages: must not be empty', { param: 'messages' });
  }
  if (body.thread_id) deps.threads.checkRoom(body.thread_id, stored.length, body.messages.length + 1);
  const session = c.get('session');
  const releases: (() => void)[] = [];
  const release = () => releases.splice(0).forEach((r) => r());
  let created: string | undefined;
  // Cancelled when the client leaves, or when the stream is cancelled (Workers may not abort the request's signal).
  const cancel = new AbortController();
  const onAbort = () => cancel.abort(c.req.raw.signal.reason);
  c.req.raw.signal.addEventListener('abort', onAbort, { once: true });
  releases.push(() => c.req.raw.signal.removeEventListener('abort', onAbort));
  try {
    if (c.req.header('x-session-id'))
      releases.push(await deps.sessions.beginTurn(session, { defer: (write) => background(c, write) }));
    if (body.thread_id) releases.push(deps.threads.begin(body.thread_id));
    created = body.new_thread ? (await deps.threads.create(owner)).id : undefined;
    const threadId = body.thread_id ?? created;
    const { options } = generationCall(c);
    const services = roundServices({
      inference: deps.inference,
      exec: deps.exec,
      agents: deps.agents,
      owner,
      call: { ...options, signal: undefined },
      signal: cancel.signal,
    });
    const events = await primed(runRound({ ...body, messages: [...stored, ...body.messages], threadId }, services));
    const after = stored.length;
    const save = threadId ? (added: ExecMessage[]) => deps.threads.append(threadId, added, { after }) : undefined;
    const onSaveFailure = (err: unknown) =>
      deps.logger.warn('a failed round could not store its tool calls in its thread', {
        requestId: c.get('requestId'),
        threadId,
        error: (err as Error)?.message ?? String(err),
      });
    return cancellable(finishing(events, { save, requestMessages: body.messages, release, onSaveFailure }), cancel);
  } catch (err) {
    release();
    // A round refused before its first event leaves no empty thread behind.
    if (created) await deps.threads.delete(created, owner).catch(() => {});
    throw err;
  }
}

/** The stream's consumer stopping (a cancelled response) aborts the round at once, even while it awaits a model or tool. */
function cancellable<T>(events: AsyncGenerator<T>, cancel: AbortController): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]: () => ({
      next: () => events.next(),
      return: async (value?: unknown) => {
        if (!cancel.signal.aborted) cancel.abort(new DOMException('The client went away', 'AbortError'));
        return events.return(value as T);
      },
    }),
  };
}

interface FinishingOptions {
  save?: (messages: ExecMessage[]) => Promise<void>;
  requestMessages: ExecMessage[];
  release: () => void;
  onSaveFailure: (err: unknown) => void;
}

/** The round's events; the thread is written before `end`, the turn released after, however the round ends. */
async function* finishing(
  events: AsyncIterable<RoundEvent>,
  { save, requestMessages, release, onSaveFailure }: FinishingOptions,
): AsyncGenerator<RoundEvent> {
  try {
    for await (const event of events) {
      if (event.type === 'end' && !event.nested && save) await save([...requestMessages, ...event.messages]);
      yield event;
    }
  } catch (err) {
    // Tools that already ran stay in the thread, so a retry does not repeat their effects.
    const partial = messagesBeforeFailure(err);
    // The round's own error is what the client gets; a failure to store is logged, not hidden.
    if (save && partial) await save([...requestMessages, ...partial]).catch(onSaveFailure);
    throw err;
  } finally {
    release();
  }
}

type RoundRouteDeps = Pick<AppDeps, 'inference' | 'sessions' | 'logger'> & {
  exec: ExecDeps;
  threads: ThreadStore;
  agents: AgentStore;
};

/** `POST /llm-exec/round` (one JSON answer) and `/llm-exec/round/stream` (SSE events). */
export function execRoundRoutes(deps: Pick<AppDeps, 'db' | 'inference' | 'sessions' | 'logger'> & { exec: ExecDeps }) {
  const routeDeps: RoundRouteDeps = { ...deps, threads: new ThreadStore(deps.db), agents: new AgentStore(deps.db) };
  return new Hono<AppEnv>()
    .post('/round', validate('json', RoundRequest), async (c) =>
      c.json(await collectRound(await startRound(c, routeDeps))),
    )
    .post('/round/stream', validate('json', RoundRequest), async (c) =>
      sseResponse(c, await startRound(c, routeDeps), { onError: streamError, logger: deps.logger }),
    );
}
