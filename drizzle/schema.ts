import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

const createdAt = () =>
  integer('created_at', { mode: 'timestamp_ms' })
    .notNull()
    .default(sql`(unixepoch() * 1000)`);

export const projects = sqliteTable('projects', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  /**
   * Hosted models the project may use on the server's provider keys: aliases
   * (`gpt-4o-mini`), `provider/model` or `provider/*`. Null: the default
   * policy (catalog aliases, plus `provider/*` where PROVIDER_PASSTHROUGH allows).
   */
  hostedModels: text('hosted_models', { mode: 'json' }).$type<string[]>(),
  createdAt: createdAt(),
});

/** `apiKey.{id}.{secret}`: only the SHA-256 of the secret is kept. */
export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id),
    name: text('name'),
    secretHash: text('secret_hash').notNull(),
    /**
     * `admin` (everything, including loading, unloading and downloading
     * models) or `inference` (use models). Keys made before scopes existed
     * keep what they could do: `admin`.
     */
    scope: text('scope', { enum: ['admin', 'inference'] })
      .notNull()
      .default('admin'),
    createdAt: createdAt(),
    lastUsedAt: integer('last_used_at', { mode: 'timestamp_ms' }),
    revokedAt: integer('revoked_at', { mode: 'timestamp_ms' }),
  },
  (t) => [index('api_keys_project_idx').on(t.projectId)],
);

/** Users (JWT `sub`) allowed into a project with `Authorization: Bearer` + `x-project-id`. */
export const projectMembers = sqliteTable(
  'project_members',
  {
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id),
    userId: text('user_id').notNull(),
    role: text('role').notNull().default('member'),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.userId] })],
);

/** `X-Session-ID` state; owned by one principal. */
export const sessions = sqliteTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    principal: text('principal').notNull(),
    projectId: text('project_id'),
    currentModel: text('current_model'),
    runnerId: text('runner_id'),
    state: text('state', { mode: 'json' }).$type<Record<string, unknown>>(),
    /** Until when a turn holds the session (a lease shared by edge instances; null: no turn). */
    turnUntil: integer('turn_until', { mode: 'timestamp_ms' }),
    createdAt: createdAt(),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' })
      .notNull()
      .default(sql`(unixepoch() * 1000)`),
  },
  (t) => [index('sessions_principal_idx').on(t.principal)],
);

/** Runners that registered themselves with a heartbeat. */
export const runners = sqliteTable('runners', {
  id: text('id').primaryKey(),
  url: text('url').notNull(),
  status: text('status', { mode: 'json' })
    .$type<{ loadedModels: string[]; capacity: number; busy: number }>()
    .notNull(),
  lastSeenAt: integer('last_seen_at', { mode: 'timestamp_ms' }).notNull(),
});

/** Conversation threads of the agent API (`thread_id`). */
export const threads = sqliteTable(
  'threads',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id'),
    principal: text('principal').notNull(),
    metadata: text('metadata', { mode: 'json' }).$type<Record<string, unknown>>(),
    createdAt: createdAt(),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' })
      .notNull()
      .default(sql`(unixepoch() * 1000)`),
  },
  (t) => [
    index('threads_principal_idx').on(t.principal, t.createdAt),
    index('threads_project_idx').on(t.projectId, t.createdAt),
  ],
);

export const messages = sqliteTable(
  'messages',
  {
    id: text('id').primaryKey(),
    threadId: text('thread_id')
      .notNull()
      .references(() => threads.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    role: text('role').notNull(),
    content: text('content'),
    /** tool_calls, name, reasoning… as sent. */
    extra: text('extra', { mode: 'json' }).$type<Record<string, unknown>>(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('messages_thread_seq_idx').on(t.threadId, t.seq)],
);

/**
 * Agents a `callable` tool can run. Like threads they belong to the caller's project, or, with no
 * project (anonymous local use), to the principal; slugs are unique within that owner. No foreign
 * key on the project: an entity token may name a project this database has no row for.
 */
export const agents = sqliteTable(
  'agents',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id'),
    /** Who created it; the owner when projectId is null. */
    principal: text('principal').notNull(),
    slug: text('slug').notNull(),
    name: text('name').notNull(),
    config: text('config', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    createdAt: createdAt(),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' })
      .notNull()
      .default(sql`(unixepoch() * 1000)`),
  },
  (t) => [
    uniqueIndex('agents_project_slug_idx')
      .on(t.projectId, t.slug)
      .where(sql`project_id is not null`),
    uniqueIndex('agents_principal_slug_idx')
      .on(t.principal, t.slug)
      .where(sql`project_id is null`),
  ],
);

/** A project's own keys for hosted providers (`openai`, `anthropic`, `groq`, a providers.json id); they win over the server's. */
export const projectProviderKeys = sqliteTable(
  'project_provider_keys',
  {
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id),
    provider: text('provider').notNull(),
    apiKey: text('api_key').notNull(),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' })
      .notNull()
      .default(sql`(unixepoch() * 1000)`),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.provider] })],
);
