import { CorsOrigins, isLoopbackHost, isLoopbackOrigin } from '../../shared/cors-origins.ts';
import { AppError } from '../../shared/errors.ts';
import type { AnonymousPolicy } from '../env.ts';
import type { ApiKeyStore } from './api-keys.ts';

const CREATE_KEY = 'create an API key (npm run keys -- create --project NAME) to turn auth on';

/**
 * Who may reach a server that runs without auth. While anonymous use is
 * possible (the policy allows it and no key exists) only requests addressed
 * to a loopback `Host` are served (DNS rebinding), and browsers only from
 * loopback origins or those in `CORS_ORIGINS`; once auth is on, every origin.
 */
export class LocalAccess {
  readonly origins: CorsOrigins;

  constructor(
    readonly deps: { anonymous: AnonymousPolicy; apiKeys: Pick<ApiKeyStore, 'hasAnyKey'> },
    { corsOrigins = [] }: { corsOrigins?: readonly string[] } = {},
  ) {
    this.origins = new CorsOrigins(corsOrigins);
  }

  /** Whether a request to `url` may be served without credentials (cached like the key store). */
  async anonymousPossible(url: string): Promise<boolean> {
    if (this.deps.anonymous === 'never') return false;
    if (this.deps.anonymous === 'loopback-when-no-keys' && !isLoopbackHost(new URL(url).host)) return false;
    return !(await this.deps.apiKeys.hasAnyKey());
  }

  /** Whether a browser at `origin` may call while the server runs without auth. */
  originAllowed(origin: string): boolean {
    return isLoopbackOrigin(origin) || this.origins.has(origin);
  }

  /**
   * Throws a 403 saying what to set when the request comes from where a
   * server without auth must not be reached; resolves quietly otherwise.
   * Looks at the key store only when Host or Origin is not local.
   */
  async check(url: string, host: string | undefined, origin: string | undefined): Promise<void> {
    const seen = host ?? new URL(url).host;
    const hostOk = isLoopbackHost(seen);
    const originOk = origin === undefined || this.originAllowed(origin);
    if (hostOk && originOk) return;
    if (!(await this.anonymousPossible(url))) return;
    if (!hostOk) {
      throw new AppError(
        403,
        `Host "${seen}" is not a loopback name: while the server runs without auth it answers only requests ` +
          `addressed to localhost, 127.0.0.1 or [::1] (this blocks DNS rebinding); ${CREATE_KEY}`,
        { code: 'host_forbidden' },
      );
    }
    throw new AppError(
      403,
      `Origin ${origin} may not call this server: while it runs without auth only pages from loopback origins may; ` +
        `list the origin in CORS_ORIGINS (comma list) to allow it, or ${CREATE_KEY}`,
      { code: 'origin_forbidden' },
    );
  }
}
