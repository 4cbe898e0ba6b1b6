import { Hono } from 'hono';
import { openAIErrorBody } from '../../shared/errors.ts';
import { randomAlphanumeric } from '../../shared/ids.ts';
import { TextCompletionRequest } from '../../shared/schemas/completions.ts';
import { toSampling } from '../../shared/schemas/sampling.ts';
import type { AppDeps, AppEnv } from '../env.ts';
import { toAppError } from '../middleware/errors.ts';
import { collectTextCompletion, toTextCompletionChunks } from '../openai/completion.ts';
import { sseResponse } from '../sse-response.ts';
import { generationCall, requestModel } from './chat.ts';
import { validate } from '../validate.ts';

/**
 * `POST /v1/completions`: OpenAI's legacy text completion, and fill-in-the-middle with `suffix` (what code
 * completion tools send). No conversation is stored; a session named with X-Session-ID keeps the runner (and so
 * its KV cache) for the next call.
 */
export function completionRoutes(deps: Pick<AppDeps, 'inference' | 'sessions' | 'logger'>) {
  return new Hono<AppEnv>().post('/completions', validate('json', TextCompletionRequest), async (c) => {
    const body = c.req.valid('json');
    const session = c.get('session');
    const model = requestModel(body.model, session);
    const prompt = typeof body.prompt === 'string' ? body.prompt : body.prompt[0]!;
    const route = generationCall(c);
    const events = await deps.inference.complete(
      { model, prompt, suffix: body.suffix ?? undefined, ...toSampling(body), logprobs: body.logprobs ?? undefined },
      route.options,
    );
    // A client that names its session keeps the runner, and so the KV cache, of its last completion.
    const { runnerId } = route;
    if (c.req.header('x-session-id') && (session.currentModel !== model || session.runnerId !== runnerId)) {
      await deps.sessions.update(session, { currentModel: model, runnerId });
    }
    const meta = {
      id: `cmpl-${randomAlphanumeric(24)}`,
      model,
      created: Math.floor(Date.now() / 1000),
      includeUsage: body.stream_options?.include_usage ?? false,
      echo: body.echo ? prompt : undefined,
      logprobs: body.logprobs != null,
    };
    if (!body.stream) return c.json(await collectTextCompletion(events, meta));
    return sseResponse(c, toTextCompletionChunks(events, meta), {
      done: '[DONE]',
      onError: (err) => openAIErrorBody(toAppError(err)),
      logger: deps.logger,
    });
  });
}
