import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { AppError, execErrorBody, openAIErrorBody } from './errors.ts';
import type { Logger } from './log.ts';

/** Maps anything thrown to an AppError; unknown errors become a 500 with no detail. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof HTTPException) {
    const message = err.status === 413 ? 'Request body too large' : err.message || 'Request failed';
    return new AppError(err.status, message);
  }
  return new AppError(500, 'Internal server error', { cause: err });
}

/** Renders an error in the shape of the route: `/llm-exec/*` or OpenAI's. */
export function renderError(c: Context, err: AppError): Response {
  for (const [name, value] of Object.entries(err.headers)) c.header(name, value);
  const body = c.req.path.startsWith('/llm-exec') ? execErrorBody(err) : openAIErrorBody(err);
  return c.json(body, err.status as ContentfulStatusCode);
}

export function onError(logger: Logger): ErrorHandler {
  return (err, c) => renderError(c, logFailure(logger, c, err, 'request failed'));
}

/**
 * Logs a failed request once, with its request id: an unexpected error with its stack, a 5xx AppError
 * with its message (a 4xx is the client's, not logged) — or, `always`, at least a warning (a stream that
 * failed after its 200 went out, which no status shows). Returns the error as an AppError.
 */
export function logFailure(
  logger: Logger,
  c: Context,
  err: unknown,
  message: string,
  { always = false }: { always?: boolean } = {},
): AppError {
  const appError = toAppError(err);
  const fields = { requestId: c.get('requestId'), path: c.req.path, status: appError.status };
  if (!(err instanceof AppError) && appError.status >= 500) {
    logger.error(message, { ...fields, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  } else if (appError.status >= 500 || always) {
    logger.warn(message, { ...fields, code: appError.code, error: appError.message });
  }
  return appError;
}

export const notFound: NotFoundHandler = (c) =>
  renderError(c, new AppError(404, `Route ${c.req.method} ${c.req.path} not found`, { code: 'route_not_found' }));
