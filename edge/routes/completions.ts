import { Hono } from 'hono';
import { AppError, openAIErrorBody } from '../../shared/errors.ts';
import { randomAlphanumeric } from '../../shared/ids.ts';
import { TextCompletionRequest } from '../../shared/schemas/completions.ts';
import { toSampling } from '../../shared/schemas/sampling.ts';
import type { AppDeps, AppEnv } from '../env.ts';
import { toAppError } from '../middleware/errors.ts';
import { collectTextCompletion, toTextCompletionChunks } from '../openai/completion.ts';
import { sseResponse } from '../sse-response.ts';
import { validate } from '../validate.ts';

/**
 * `POST /v1/completions`: OpenAI's legacy text completion, and fill-in-the-middle with `suffix` (what code
 * completion tools send). Nothing is stored; the session keeps the runner (and so its KV cache) for the next call.
 */
export function completionRoutes(deps: Pick<AppDeps, 'inference' | 'sessions' | 'logger'>) {
  return new Hono<AppEnv>().post('/completions', validate('json', TextCompletionRequest), async (c) => {
    const body = c.req.valid('json');
    const session = c.get('session');
    const model = body.model ?? session.currentModel;
    if (!model) {
      throw new AppError(400, 'No model is loaded: pass "model" or load one with POST /v1/models/{name}/load', {
        code: 'no_model_loaded',
        param: 'model',
      });
    }
    const prompt = typeof body.prompt === 'string' ? body.prompt : body.prompt[0]!;
    let runnerId = session.runnerId;
    const events = await deps.inference.complete(
      { model, prompt, suffix: body.suffix ?? undefined, ...toSampling(body), logprobs: body.logprobs ?? undefined },
      {
        sessionId: session.id,
        projectId: c.get('principal').projectId,
        download: c.get('principal').scope === 'admin',
        signal: c.req.raw.signal,
        runnerId,
        onRoute: (id) => (runnerId = id),
      },
    );
    deps.sessions.note(session, { currentModel: model, runnerId });
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
