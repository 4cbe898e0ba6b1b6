/** How user and entity tokens are verified (`JWT_*`, `JWKS_URL`, `ENTITY_SECRET`). */
export interface TokenConfig {
  /** HS256/384/512 secret for `Authorization: Bearer <jwt>` (`JWT_SECRET`). */
  jwtSecret?: string;
  /** JWKS for bearer tokens signed with asymmetric keys (`JWKS_URL`). */
  jwksUrl?: string;
  jwtIssuer?: string;
  jwtAudience?: string;
  /** HS256 secret for `Authorization: Entity <jwt>` (`ENTITY_SECRET`). */
  entitySecret?: string;
}
