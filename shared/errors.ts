import { redactPaths } from './redact-paths.ts';

/** OpenAI error `type` for each HTTP status class. */
const TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  409: 'conflict_error',
  413: 'invalid_request_error',
  429: 'rate_limit_error',
  503: 'service_unavailable',
};

export interface AppErrorOptions {
  /** Machine-readable code, e.g. `invalid_value` or `model_not_found`. */
  code?: string;
  /** The request field at fault (`messages.0.role`, `x-project-id`). */
  param?: string;
  /** Extra response headers such as `Retry-After`. */
  headers?: Record<string, string>;
  cause?: unknown;
}

/** The one error type every layer throws; `app.onError` renders it in the shape of the route. */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly param: string | undefined;
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, options: AppErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.status = status;
    this.code = options.code ?? defaultCode(status);
    this.param = options.param;
    this.headers = options.headers ?? {};
  }

  get type(): string {
    return TYPES[this.status] ?? (this.status >= 500 ? 'server_error' : 'invalid_request_error');
  }
}

function defaultCode(status: number): string {
  if (status === 400) return 'invalid_request';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 413) return 'payload_too_large';
  if (status === 429) return 'rate_limited';
  if (status === 503) return 'unavailable';
  return 'internal_error';
}

/** 400 naming the field at fault. */
export function invalidField(param: string, message: string): AppError {
  return new AppError(400, `${param}: ${message}`, { code: 'invalid_value', param });
}

/** Body of an error on `/v1/*` (OpenAI's shape). */
export interface OpenAIErrorBody {
  error: { message: string; type: string; code: string; param: string | null };
}

/** Body of an error on `/llm-exec/*`. */
export interface ExecErrorBody {
  error: string;
  statusCode: number;
}

/** Client-facing bodies carry no server file paths (`redactPaths`). */
export function openAIErrorBody(err: AppError): OpenAIErrorBody {
  return { error: { message: redactPaths(err.message), type: err.type, code: err.code, param: err.param ?? null } };
}

export function execErrorBody(err: AppError): ExecErrorBody {
  return { error: redactPaths(err.message), statusCode: err.status };
}
