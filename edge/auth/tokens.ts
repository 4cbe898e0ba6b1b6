import { and, eq } from 'drizzle-orm';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Db } from '../../drizzle/db.ts';
import { projectMembers } from '../../drizzle/schema.ts';
import { AppError } from '../../shared/errors.ts';
import type { Principal } from '../env.ts';
import { scopeFromClaim, type Scope } from './scopes.ts';
import { TtlCache } from './ttl-cache.ts';

import type { TokenConfig } from '../../shared/token-config.ts';

export type { TokenConfig };

/**
 * What is risky in a token configuration, one sentence each: today a
 * `JWT_SECRET` or `JWKS_URL` without `JWT_AUDIENCE` (tokens the same issuer
 * signs for other services would be accepted here).
 */
export function tokenConfigWarnings(config: TokenConfig): string[] {
  if (!(config.jwtSecret || config.jwksUrl) || config.jwtAudience) return [];
  const source = config.jwtSecret ? 'JWT_SECRET' : 'JWKS_URL';
  return [
    `${source} is set without JWT_AUDIENCE: any token signed with it is accepted, including tokens meant for ` +
      'other services; set JWT_AUDIENCE to the aud claim your identity provider puts in tokens for this server',
  ];
}

const HMAC = ['HS256', 'HS384', 'HS512'];
const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];

/**
 * Verifies user bearer tokens (then project membership) and entity tokens.
 * `alg: none` and algorithms outside the configured family are refused;
 * `exp` is required, `nbf`, `iss` and `aud` checked when configured.
 * A user has the `admin` scope when its membership's role is `admin`, else
 * `inference`; an entity has what its `scope` claim grants.
 */
export class TokenVerifier {
  readonly #userKey: Uint8Array | JWTVerifyGetKey | undefined;
  readonly #entityKey: Uint8Array | undefined;
  readonly #members = new TtlCache<string, Scope | false>(5_000);

  constructor(
    readonly db: Db,
    readonly config: TokenConfig,
  ) {
    if (config.jwtSecret) this.#userKey = new TextEncoder().encode(config.jwtSecret);
    else if (config.jwksUrl) this.#userKey = createRemoteJWKSet(new URL(config.jwksUrl));
    if (config.entitySecret) this.#entityKey = new TextEncoder().encode(config.entitySecret);
  }

  get acceptsUserTokens(): boolean {
    return this.#userKey !== undefined;
  }

  get acceptsEntityTokens(): boolean {
    return this.#entityKey !== undefined;
  }

  /** A user principal for `token` in `projectId`; 401 on a bad token, 403 when not a member. */
  async user(token: string, projectId: string | undefined): Promise<Principal> {
    if (!this.#userKey)
      throw new AppError(401, 'Bearer tokens are not accepted: the server has no JWT_SECRET or JWKS_URL');
    const key = this.#userKey;
    const options = {
      algorithms: key instanceof Uint8Array ? HMAC : ASYMMETRIC,
      issuer: this.config.jwtIssuer,
      audience: this.config.jwtAudience,
      requiredClaims: ['exp', 'sub'],
    };
    const payload = await (key instanceof Uint8Array ? jwtVerify(token, key, options) : jwtVerify(token, key, options))
      .then((r) => r.payload)
      .catch(() => {
        throw new AppError(401, 'Invalid or expired token', { code: 'invalid_token' });
      });
    if (!projectId) {
      throw new AppError(400, 'x-project-id: header is required with a Bearer token', { param: 'x-project-id' });
    }
    const userId = payload.sub!;
    const scope = await this.#membership(projectId, userId);
    if (!scope) throw new AppError(403, `Access denied to project ${projectId}`, { code: 'project_forbidden' });
    return { id: `user:${userId}`, kind: 'user', projectId, scope };
  }

  /**
   * An internal-service principal. The token must name its project in a
   * `project_id` claim (an `x-project-id` header must then match it); the
   * claim `"*"` lets the service act in the project `x-project-id` names,
   * which is then required. Its scope comes from the `scope` claim
   * (`"admin"`, `"inference"`, space-separated; default `inference`).
   */
  async entity(token: string, projectId: string | undefined): Promise<Principal> {
    if (!this.#entityKey) throw new AppError(401, 'Entity tokens are not accepted: the server has no ENTITY_SECRET');
    const { payload } = await jwtVerify(token, this.#entityKey, {
      algorithms: HMAC,
      requiredClaims: ['exp', 'sub'],
    }).catch(() => {
      throw new AppError(401, 'Invalid or expired entity token', { code: 'invalid_token' });
    });
    const claimed = typeof payload.project_id === 'string' && payload.project_id ? payload.project_id : undefined;
    if (!claimed) {
      throw new AppError(
        401,
        'Entity token has no project_id claim: sign it with the project it acts for (or "*" to choose one with x-project-id)',
        { code: 'invalid_token' },
      );
    }
    if (claimed === '*' && !projectId) {
      throw new AppError(400, 'x-project-id: header is required with an entity token for any project', {
        param: 'x-project-id',
      });
    }
    if (claimed !== '*' && projectId && projectId !== claimed) {
      throw new AppError(403, `Access denied to project ${projectId}`, { code: 'project_forbidden' });
    }
    return {
      id: `entity:${payload.sub}`,
      kind: 'entity',
      projectId: claimed === '*' ? projectId! : claimed,
      scope: scopeFromClaim(payload.scope),
    };
  }

  async #membership(projectId: string, userId: string): Promise<Scope | false> {
    const cacheKey = `${projectId}\u0000${userId}`;
    const cached = this.#members.get(cacheKey);
    if (cached !== undefined) return cached;
    const row = await this.db
      .select({ role: projectMembers.role })
      .from(projectMembers)
      .where(and(eq(projectMembers.projectId, projectId), eq(projectMembers.userId, userId)))
      .get();
    const scope = row ? (row.role === 'admin' ? 'admin' : 'inference') : false;
    this.#members.set(cacheKey, scope);
    return scope;
  }
}
