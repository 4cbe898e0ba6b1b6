import { AppError } from '../../shared/errors.ts';
import type { Principal } from '../env.ts';

/**
 * What a caller may do: `admin` everything, including loading, unloading and
 * downloading models (they affect every caller of the server); `inference`
 * uses models (chat, completions, embeddings, sessions), loading one on
 * demand when a request names it and its file is on disk (downloading it is
 * admin's: `CallOptions.download`).
 */
export const SCOPES = ['admin', 'inference'] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: unknown): value is Scope {
  return typeof value === 'string' && (SCOPES as readonly string[]).includes(value);
}

/** A token's `scope` claim (OAuth style: space-separated, or an array) → `admin` when it grants it, else `inference`. */
export function scopeFromClaim(claim: unknown): Scope {
  const granted = Array.isArray(claim) ? claim : typeof claim === 'string' ? claim.split(/\s+/) : [];
  return granted.includes('admin') ? 'admin' : 'inference';
}

/** Throws a 403 naming the scope `action` needs unless `principal` has it (absent scope: `inference`). */
export function requireScope(principal: Principal, scope: Scope, action: string): void {
  if (scope === 'inference' || principal.scope === 'admin') return;
  throw new AppError(
    403,
    `${action} needs the admin scope; this ${describe(principal)} has the ${principal.scope ?? 'inference'} scope ` +
      '(create an admin key with: npm run keys -- create --project NAME --scope admin)',
    { code: 'insufficient_scope' },
  );
}

function describe(principal: Principal): string {
  if (principal.kind === 'api-key') return 'API key';
  if (principal.kind === 'user') return 'user token';
  if (principal.kind === 'entity') return 'entity token';
  return 'caller';
}
