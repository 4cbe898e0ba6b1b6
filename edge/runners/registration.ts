import { AppError } from '../../shared/errors.ts';
import { timingSafeEqual } from '../../shared/ids.ts';

/** What runners may register with: the shared `RUNNER_TOKEN` and/or per-runner secrets (`RUNNER_CREDENTIALS`). */
export interface RegistrationSecrets {
  shared?: string;
  /** Runner id → its own secret; a listed id may register with nothing else. */
  perRunner?: ReadonlyMap<string, string>;
}

/** The credential a heartbeat presented for its runner id; `own` when it is that id's per-runner secret. */
export interface RunnerCredential {
  secret: string;
  own: boolean;
}

export function registrationEnabled(secrets: RegistrationSecrets): boolean {
  return Boolean(secrets.shared || secrets.perRunner?.size);
}

/**
 * The credential `presented` is for runner `id`: the id's own secret when it
 * is listed (the shared token is refused for it), else the shared token.
 * 401 when it is neither.
 */
export function credentialFor(secrets: RegistrationSecrets, id: string, presented: string): RunnerCredential {
  const own = secrets.perRunner?.get(id);
  if (own !== undefined) {
    if (timingSafeEqual(presented, own)) return { secret: own, own: true };
    throw new AppError(401, `Invalid credential for runner "${id}": it must register with its own secret`, {
      code: 'invalid_runner_credential',
    });
  }
  if (!secrets.shared) {
    throw new AppError(401, `Runner "${id}" has no credential on this edge: list it in RUNNER_CREDENTIALS`, {
      code: 'invalid_runner_credential',
    });
  }
  if (!timingSafeEqual(presented, secrets.shared)) {
    throw new AppError(401, 'Invalid runner token', { code: 'invalid_runner_credential' });
  }
  return { secret: secrets.shared, own: false };
}
