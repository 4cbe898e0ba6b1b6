import type { MiddlewareHandler } from 'hono';
import { AppError } from '../../shared/errors.ts';
import { looksLikeApiKey } from '../auth/api-keys.ts';
import { LocalAccess } from '../auth/local-access.ts';
import { websocketProtocolKey } from '../auth/websocket-protocol-key.ts';
import type { AppDeps, AppEnv, Principal } from '../env.ts';
import { background } from './background.ts';

const ANONYMOUS: Principal = { id: 'anonymous', kind: 'anonymous', projectId: null, scope: 'admin' };

/**
 * Resolves the caller: `x-api-key` (or, on a WebSocket upgrade, the key a browser offers as a subprotocol),
 * `Authorization: Bearer apiKey…`,
 * `Authorization: Bearer <jwt>` + `x-project-id`, `Authorization: Entity <jwt>`,
 * or anonymous where the policy allows (a Bearer value that is no key or
 * token is then ignored: OpenAI clients always send one).
 */
export function authenticate(deps: Pick<AppDeps, 'apiKeys' | 'tokens' | 'anonymous'>): MiddlewareHandler<AppEnv> {
  const { apiKeys, tokens } = deps;
  const access = new LocalAccess(deps);
  const anonymousAllowed = (url: string) => access.anonymousPossible(url);

  async function viaKey(raw: string, c: Parameters<MiddlewareHandler<AppEnv>>[0]): Promise<Principal> {
    const principal = await apiKeys.verify(raw, (p) => background(c, p));
    if (!principal) throw new AppError(401, 'Invalid API key', { code: 'invalid_api_key' });
    return principal;
  }

  return async (c, next) => {
    const projectId = c.req.header('x-project-id') || undefined;
    // A browser's WebSocket cannot send headers: its key comes as an offered subprotocol instead.
    const apiKey =
      c.req.header('x-api-key') ??
      websocketProtocolKey(c.req.header('upgrade'), c.req.header('sec-websocket-protocol'));
    const authorization = c.req.header('authorization');
    let principal: Principal;

    if (apiKey) {
      principal = await viaKey(apiKey, c);
    } else if (authorization) {
      const space = authorization.indexOf(' ');
      const scheme = space === -1 ? authorization : authorization.slice(0, space);
      const value = space === -1 ? '' : authorization.slice(space + 1).trim();
      if (/^bearer$/i.test(scheme)) {
        if (looksLikeApiKey(value)) {
          principal =
            (await apiKeys.verify(value, (p) => background(c, p))) ??
            (await orAnonymous(anonymousAllowed(c.req.url), 'Invalid API key'));
        } else if (tokens.acceptsUserTokens) {
          principal = await tokens.user(value, projectId).catch(async (err: unknown) => {
            if (err instanceof AppError && err.status === 401 && (await anonymousAllowed(c.req.url))) return ANONYMOUS;
            throw err;
          });
        } else {
          principal = await orAnonymous(anonymousAllowed(c.req.url), 'Invalid API key or token');
        }
      } else if (/^entity$/i.test(scheme)) {
        principal = await tokens.entity(value, projectId);
      } else {
        throw new AppError(401, 'Invalid authorization format. Must start with Bearer or Entity', {
          code: 'invalid_authorization_format',
        });
      }
    } else {
      principal = await orAnonymous(
        anonymousAllowed(c.req.url),
        'Missing credentials: send x-api-key or Authorization: Bearer',
      );
    }

    if (projectId && principal.projectId && projectId !== principal.projectId) {
      throw new AppError(403, `Access denied to project ${projectId}`, { code: 'project_forbidden' });
    }
    c.set('principal', principal);
    await next();
  };
}

async function orAnonymous(allowed: Promise<boolean>, message: string): Promise<Principal> {
  if (await allowed) return ANONYMOUS;
  throw new AppError(401, message, { code: 'unauthorized' });
}
