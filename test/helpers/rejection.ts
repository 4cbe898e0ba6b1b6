import { expect } from 'vitest';
import { AppError } from '../../shared/errors.ts';

/** What `promise` rejects with, checked to be an AppError (fails the test if it resolves). */
export async function appErrorOf(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => expect.unreachable('expected a rejection'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}
