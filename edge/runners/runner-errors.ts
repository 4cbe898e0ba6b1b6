import { AppError } from '../../shared/errors.ts';
import { endedEarly } from '../../shared/stream-end.ts';
import type { TransportResponse } from './transport.ts';

/** Headers of a runner's answer that a client needs (backoff and rate limits): forwarded as they are. */
const FORWARDED = /^(retry-after|retry-after-ms|x-ratelimit-[a-z-]+|ratelimit(-[a-z-]+)?)$/i;

/** The backoff and rate-limit headers of a runner's answer, to pass on to the client. */
export function forwardedHeaders(res: Pick<TransportResponse, 'headers'>): Record<string, string> {
  const out: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (FORWARDED.test(name)) out[name.toLowerCase() === 'retry-after' ? 'Retry-After' : name.toLowerCase()] = value;
  });
  return out;
}

/** Turns a runner's error answer back into an AppError with the runner's status, message, code and backoff headers. */
export async function runnerError(res: TransportResponse): Promise<AppError> {
  const text = await res.text().catch(() => '');
  let message = `Runner answered ${res.status}`;
  let code: string | undefined;
  let param: string | undefined;
  try {
    const body = JSON.parse(text) as { error?: { message?: string; code?: string; param?: string | null } };
    if (body.error?.message) message = body.error.message;
    code = body.error?.code;
    param = body.error?.param ?? undefined;
  } catch {
    // Not our error shape: keep the status line.
  }
  const status = res.status === 401 ? 502 : res.status < 400 ? 502 : res.status;
  return new AppError(
    status,
    status === 502 && res.status === 401 ? `Runner refused the edge's credentials: ${message}` : message,
    {
      code,
      param,
      headers: forwardedHeaders(res),
    },
  );
}

/** 503 with `Retry-After`: no runner can take the call. */
export function noRunner(tried = 0): AppError {
  return new AppError(
    503,
    tried
      ? `No runner could be reached (tried ${tried}); retry shortly`
      : 'No runner is available to serve this request; start one with `npm run runner` and list it in RUNNER_URLS',
    { code: 'no_runner', headers: { 'Retry-After': '1' } },
  );
}

/** 502 `runner_lost`: the runner took the call and then went away; what it had started is lost. */
export function runnerLost(runnerId: string | null, detail: string, cause?: unknown): AppError {
  return new AppError(
    502,
    `Runner ${runnerId ?? '(unknown)'} was lost while answering (${detail}); the answer is incomplete — retry, another runner will take it`,
    { code: 'runner_lost', headers: { 'Retry-After': '1' }, cause },
  );
}

/** 502 `runner_stream_incomplete`: the runner closed its stream without the final event. */
export function runnerStreamIncomplete(runnerId: string | null): AppError {
  return endedEarly(`Runner ${runnerId ?? '(unknown)'}`, 'runner_stream_incomplete');
}
