import { Hono, type Context } from 'hono';
import { AppError, openAIErrorBody } from '../../shared/errors.ts';
import { randomAlphanumeric } from '../../shared/ids.ts';
import {
  ChatCompletionRequest,
  type ChatEvent,
  type ChatMessage,
  type ChatRequest,
} from '../../shared/schemas/chat.ts';
import { toSampling } from '../../shared/schemas/sampling.ts';
import { continueConversation, recordAnswer } from '../sessions/conversation.ts';
import type { AppDeps, AppEnv } from '../env.ts';
import { background } from '../middleware/background.ts';
import { toAppError } from '../middleware/errors.ts';
import { collectCompletion, toCompletionChunks } from '../openai/completion.ts';
import { sseResponse } from '../sse-response.ts';
import { validate } from '../validate.ts';

/** The document's and OpenAI's request → what engines take, over the conversation it continues. */
export function toChatRequest(body: ChatCompletionRequest, model: string, messages: ChatMessage[]): ChatRequest {
  return {
    model,
    messages,
    ...toSampling(body),
    parallelToolCalls: body.parallel_tool_calls ?? undefined,
    logprobs: body.logprobs ? (body.top_logprobs ?? 0) : undefined,
    tools: body.tools ?? undefined,
    toolChoice: body.tool_choice ?? undefined,
    responseFormat: body.response_format ?? undefined,
  };
}

/**
 * The inference call of a generation on the caller's session: its sessionId, project and signal; a
 * download only for admin callers (anonymous local use included); `runnerId` follows the runner that serves it.
 */
export function generationCall(c: Context<AppEnv>) {
  const session = c.get('session');
  const principal = c.get('principal');
  const call = {
    runnerId: session.runnerId,
    options: {
      sessionId: session.id,
      projectId: principal.projectId,
      download: principal.scope === 'admin',
      signal: c.req.raw.signal,
      runnerId: session.runnerId,
      onRoute: (id: string) => void (call.runnerId = id),
    },
  };
  return call;
}

/** The model a generation request names, else the session's; a 400 when there is neither. */
export function requestModel(named: string | undefined, session: { currentModel: string | null }): string {
  const model = named ?? session.currentModel;
  if (!model) {
    throw new AppError(400, 'No model is loaded: pass "model" or load one with POST /v1/models/{name}/load', {
      code: 'no_model_loaded',
      param: 'model',
    });
  }
  return model;
}

type ChatDeps = Pick<AppDeps, 'inference' | 'sessions' | 'logger'>;

/** `POST /v1/chat/completions`: streaming or not; the session's model when the body names none. */
export function chatRoutes(deps: ChatDeps) {
  const answer = chatHandler(deps);
  return new Hono<AppEnv>().post('/chat/completions', validate('json', ChatCompletionRequest), (c) =>
    answer(c, c.req.valid('json')),
  );
}

/**
 * Answers a validated chat request on the caller's session (JSON, or SSE chunks with `stream`): what
 * `/v1/chat/completions` and the unified endpoint's `llm` tool both run.
 */
export function chatHandler(deps: ChatDeps) {
  return async (c: Context<AppEnv>, body: ChatCompletionRequest): Promise<Response> => {
    const session = c.get('session');
    const model = requestModel(body.model, session);
    if (body.messages.length === 0 && !body.system) {
      throw new AppError(400, 'messages: must not be empty', { param: 'messages' });
    }
    // A header-less request that sends a whole history (OpenAI clients) is self-contained: nothing to keep.
    const stateless = !c.req.header('x-session-id') && body.messages.filter((m) => m.role !== 'system').length > 1;
    const release = await deps.sessions.beginTurn(session, { defer: (write) => background(c, write) });
    c.req.raw.signal.addEventListener('abort', release, { once: true });
    let events: AsyncIterable<ChatEvent>;
    try {
      const stored = stateless ? [] : await deps.sessions.history(session.id);
      const messages = continueConversation(stored, body.messages, body.system);
      const route = generationCall(c);
      const answered = await deps.inference.chat(toChatRequest(body, model, messages), route.options);
      const { runnerId } = route;
      // Kept before the answer starts, so /v1/stop and the session's model work from any process while it runs.
      const patch = { currentModel: model, runnerId };
      if (stateless) deps.sessions.note(session, patch);
      else if (session.currentModel !== model || session.runnerId !== runnerId)
        await deps.sessions.update(session, patch);
      // The turn is committed before the answer completes.
      const save = (answer: ChatMessage) =>
        stateless
          ? Promise.resolve()
          : deps.sessions.saveHistory(session, [...messages, answer], { currentModel: model, runnerId });
      events = releasing(recordAnswer(answered, save), release);
    } catch (err) {
      release();
      throw err;
    }
    const meta = {
      id: `chatcmpl-${randomAlphanumeric(24)}`,
      model,
      created: Math.floor(Date.now() / 1000),
      includeUsage: body.stream_options?.include_usage ?? false,
      logprobs: body.logprobs ?? false,
    };
    if (!body.stream) return c.json(await collectCompletion(events, meta));
    return sseResponse(c, toCompletionChunks(events, meta), {
      done: '[DONE]',
      onError: (err) => openAIErrorBody(toAppError(err)),
      logger: deps.logger,
    });
  };
}

/** Passes events through and calls `release` once they end, however they end. */
async function* releasing<T>(events: AsyncIterable<T>, release: () => void): AsyncGenerator<T> {
  try {
    yield* events;
  } finally {
    release();
  }
}
