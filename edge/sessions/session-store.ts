import { eq } from 'drizzle-orm';
import type { Db } from '../../drizzle/db.ts';
import { sessions } from '../../drizzle/schema.ts';
import { isSessionId, newSessionId } from '../../shared/ids.ts';
import type { ChatMessage } from '../../shared/schemas/chat.ts';
import type { Principal } from '../env.ts';
import { TtlCache } from '../auth/ttl-cache.ts';

export interface SessionRecord {
  id: string;
  principal: string;
  projectId: string | null;
  currentModel: string | null;
  /** Runner holding this session's context (affinity). */
  runnerId: string | null;
}

/** Messages a session keeps (the oldest are dropped first). */
export const MAX_HISTORY = 200;

export type SessionPatch = Partial<Pick<SessionRecord, 'currentModel' | 'runnerId'>>;

/**
 * `X-Session-ID` sessions, persisted in the database and cached in memory.
 * `cacheTtlMs` bounds how stale a cached session may be: a single Node
 * process is the only writer (default: 10 min); Workers isolates share the
 * database, so they use a short one.
 */
export class SessionStore {
  readonly #cache: TtlCache<string, SessionRecord>;

  constructor(
    readonly db: Db,
    { cacheTtlMs = 600_000, maxCached = 50_000 }: { cacheTtlMs?: number; maxCached?: number } = {},
  ) {
    this.#cache = new TtlCache(cacheTtlMs, maxCached);
  }

  /**
   * The caller's session for `requestedId`: that session when it exists and
   * belongs to `principal`; otherwise (absent, malformed, unknown, another
   * principal's) a new one.
   */
  async resolve(requestedId: string | undefined, principal: Principal): Promise<SessionRecord> {
    if (requestedId && isSessionId(requestedId)) {
      const found = await this.get(requestedId);
      if (found && found.principal === principal.id) return found;
    }
    return this.create(principal);
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const cached = this.#cache.get(id);
    if (cached) return cached;
    const row = await this.db.select().from(sessions).where(eq(sessions.id, id)).get();
    if (!row) return undefined;
    const record: SessionRecord = {
      id: row.id,
      principal: row.principal,
      projectId: row.projectId,
      currentModel: row.currentModel,
      runnerId: row.runnerId,
    };
    this.#cache.set(id, record);
    return record;
  }

  async create(principal: Principal): Promise<SessionRecord> {
    const record: SessionRecord = {
      id: newSessionId(),
      principal: principal.id,
      projectId: principal.projectId,
      currentModel: null,
      runnerId: null,
    };
    await this.db
      .insert(sessions)
      .values({ id: record.id, principal: record.principal, projectId: record.projectId })
      .run();
    this.#cache.set(record.id, record);
    return record;
  }

  /** The session's conversation (read from the database, not cached: it can be long). */
  async history(id: string): Promise<ChatMessage[]> {
    const row = await this.db.select({ state: sessions.state }).from(sessions).where(eq(sessions.id, id)).get();
    const messages = row?.state?.messages;
    return Array.isArray(messages) ? (messages as ChatMessage[]) : [];
  }

  /** Replaces the session's conversation, keeping the last `MAX_HISTORY` messages. */
  async saveHistory(id: string, messages: ChatMessage[]): Promise<void> {
    const kept = messages.slice(-MAX_HISTORY);
    await this.db
      .update(sessions)
      .set({ state: { messages: kept }, updatedAt: new Date() })
      .where(eq(sessions.id, id))
      .run();
  }

  async update(id: string, patch: SessionPatch): Promise<SessionRecord | undefined> {
    const current = await this.get(id);
    if (!current) return undefined;
    const next = { ...current, ...patch };
    await this.db
      .update(sessions)
      .set({ ...patch, updatedAt: new Date() })
      .where(eq(sessions.id, id))
      .run();
    this.#cache.set(id, next);
    return next;
  }
}
