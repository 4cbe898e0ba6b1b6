import { zValidator } from '@hono/zod-validator';
import type { ValidationTargets } from 'hono';
import type { ZodError, ZodType } from 'zod';
import { AppError } from './errors.ts';

/** Turns the first zod issue into a 400 that names the field. */
export function fieldError(error: ZodError, target: string): AppError {
  const issue = error.issues[0];
  const path = issue?.path.length ? issue.path.map(String).join('.') : target;
  const message = issue?.message ?? 'invalid value';
  return new AppError(400, `${path}: ${message}`, { code: 'invalid_value', param: path });
}

/** `zValidator` whose failures become our 400 error, rendered by `app.onError`. */
export function validate<T extends keyof ValidationTargets, S extends ZodType>(target: T, schema: S) {
  return zValidator(target, schema, (result) => {
    if (!result.success) throw fieldError(result.error as unknown as ZodError, target);
  });
}
