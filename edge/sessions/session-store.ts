import { and, eq, gt, isNull, lt, or } from 'drizzle-orm';
import type { Db } from '../../drizzle/db.ts';
import { sessions } from '../../drizzle/schema.ts';
import { AppError } from '../../shared/errors.ts';
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
  /** In the database (read from it or written to it): only a stored session can be claimed by another instance. */
  stored?: boolean;
}

/** Messages a session keeps (the oldest are dropped first). */
export const MAX_HISTORY = 200;
/** Characters of JSON a session's stored conversation may take (the oldest turns are dropped first): 512 Ki. */
export const MAX_HISTORY_CHARS = 512 * 1024;
/** How long a turn's lease in the database lasts unless renewed (every third of it while the turn runs): 60 s. */
export const TURN_LEASE_MS = 60_000;
/** Idle time after which a session and its history are removed (`SESSION_TTL`): 24 h. */
export const DEFAULT_SESSION_TTL_MS = 24 * 3_600_000;

export type SessionPatch = Partial<Pick<SessionRecord, 'currentModel' | 'runnerId'>>;

export interface SessionStoreOptions {
  /** How stale a cached session may be: one Node process is the only writer (default 10 min); Workers use a short one. */
  cacheTtlMs?: number;
  maxCached?: number;
  /** Idle time before a session expires (default 24 h). */
  ttlMs?: number;
  /**
   * Several edge instances share the database (Workers isolates): a turn on a stored session also takes a
   * lease of this length in it, renewed while the turn runs, so a turn elsewhere gets the 409 too. Default
   * 0: one process, turns held in memory only.
   */
  turnLeaseMs?: number;
}

/**
 * `X-Session-ID` sessions. An id is handed out at once, but a session is
 * written to the database only when it has state to keep (a model, a
 * conversation) or the client asks for it (`GET /v1/session`): header-less
 * calls cost no write. Sessions belong to one principal in one project, expire
 * after `ttlMs` without a write, and run one turn at a time.
 */
export class SessionStore {
  readonly #cache: TtlCache<string, SessionRecord>;
  /** Sessions with a turn running, found here too before they are stored. */
  readonly #turns = new Map<string, SessionRecord>();
  readonly ttlMs: number;
  readonly #turnLeaseMs: number;

  constructor(
    readonly db: Db,
    {
      cacheTtlMs = 600_000,
      maxCached = 50_000,
      ttlMs = DEFAULT_SESSION_TTL_MS,
      turnLeaseMs = 0,
    }: SessionStoreOptions = {},
  ) {
    this.#cache = new TtlCache(Math.min(cacheTtlMs, ttlMs), maxCached);
    this.ttlMs = ttlMs;
    this.#turnLeaseMs = turnLeaseMs;
  }

  /**
   * The caller's session for `requestedId`: that session when it exists, has
   * not expired and belongs to `principal` in its project; otherwise (absent,
   * malformed, unknown, expired, another's) a new one, not yet stored.
   */
  async resolve(requestedId: string | undefined, principal: Principal): Promise<SessionRecord> {
    if (requestedId && isSessionId(requestedId)) {
      const found = this.#turns.get(requestedId) ?? (await this.get(requestedId));
      if (found && found.principal === principal.id && found.projectId === principal.projectId) return found;
    }
    return this.fresh(principal);
  }

  /** A stored, unexpired session. */
  async get(id: string): Promise<SessionRecord | undefined> {
    const cached = this.#cache.get(id);
    if (cached) return cached;
    const row = await this.db
      .select()
      .from(sessions)
      .where(and(eq(sessions.id, id), gt(sessions.updatedAt, this.#expiredBefore())))
      .get();
    if (!row) return undefined;
    const record: SessionRecord = {
      id: row.id,
      principal: row.principal,
      projectId: row.projectId,
      currentModel: row.currentModel,
      runnerId: row.runnerId,
      stored: true,
    };
    this.#cache.set(id, record);
    return record;
  }

  /** A new session for `principal`, in memory only until it has state ({@link persist}, {@link update}, {@link saveHistory}). */
  fresh(principal: Principal): SessionRecord {
    return {
      id: newSessionId(),
      principal: principal.id,
      projectId: principal.projectId,
      currentModel: null,
      runnerId: null,
    };
  }

  /** A new session, stored at once. */
  async create(principal: Principal): Promise<SessionRecord> {
    return this.persist(this.fresh(principal));
  }

  /** Stores the session (or refreshes its idle clock) with `patch` applied; resolves once committed. */
  async persist(record: SessionRecord, patch: SessionPatch = {}): Promise<SessionRecord> {
    const { stored: _, ...next } = { ...record, ...patch };
    const now = new Date();
    await this.db
      .insert(sessions)
      .values({ ...next, updatedAt: now })
      .onConflictDoUpdate({ target: sessions.id, set: { ...patch, updatedAt: now } })
      .run();
    const written = { ...next, stored: true };
    this.#remember(written);
    return written;
  }

  /** The session's conversation (read from the database, not cached: it can be long). */
  async history(id: string): Promise<ChatMessage[]> {
    const row = await this.db.select({ state: sessions.state }).from(sessions).where(eq(sessions.id, id)).get();
    const messages = row?.state?.messages;
    return Array.isArray(messages) ? (messages as ChatMessage[]) : [];
  }

  /**
   * Replaces the session's conversation (storing the session if it was not),
   * keeping the newest messages that fit in `MAX_HISTORY` and `MAX_HISTORY_CHARS`
   * (a leading system message stays); resolves once committed.
   */
  async saveHistory(record: SessionRecord, messages: ChatMessage[], patch: SessionPatch = {}): Promise<void> {
    const kept = boundedHistory(messages);
    const now = new Date();
    const { stored: _, ...next } = { ...record, ...patch };
    await this.db
      .insert(sessions)
      .values({ ...next, state: { messages: kept }, updatedAt: now })
      .onConflictDoUpdate({ target: sessions.id, set: { ...patch, state: { messages: kept }, updatedAt: now } })
      .run();
    this.#remember({ ...next, stored: true });
  }

  /** Sets the session's model and runner (storing the session if it was not). */
  async update(record: SessionRecord, patch: SessionPatch): Promise<SessionRecord> {
    return this.persist(record, patch);
  }

  /**
   * Claims the session for one turn; a second turn while one runs is a 409
   * (turns are never interleaved). With `turnLeaseMs`, a stored session is
   * claimed in the database too (other instances see it); `defer` runs the
   * lease's release write after the response (Workers' waitUntil). Returns
   * the release function (idempotent).
   */
  async beginTurn(record: SessionRecord, { defer }: { defer?: (write: Promise<unknown>) => void } = {}) {
    const { id } = record;
    if (this.#turns.has(id)) throw sessionBusy(id);
    this.#turns.set(id, record);
    let lease: TurnLease | undefined;
    if (this.#turnLeaseMs > 0 && record.stored) {
      try {
        lease = await this.#lease(id);
      } catch (err) {
        this.#turns.delete(id);
        throw err;
      }
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#turns.delete(id);
      if (lease) {
        const write = lease.release();
        if (defer) defer(write);
        else write.catch(() => {});
      }
    };
  }

  /** Takes the session's turn lease in the database (a 409 when another instance holds it), renewed until released. */
  async #lease(id: string): Promise<TurnLease> {
    const ms = this.#turnLeaseMs;
    let until = new Date(Date.now() + ms);
    const free = or(isNull(sessions.turnUntil), lt(sessions.turnUntil, new Date()));
    const taken = await this.db
      .update(sessions)
      .set({ turnUntil: until })
      .where(and(eq(sessions.id, id), free))
      .run();
    if (changes(taken) === 0) throw sessionBusy(id);
    const mine = () => and(eq(sessions.id, id), eq(sessions.turnUntil, until));
    // Renewals and the release run one after another, each matching the lease as the last one left it.
    let writes: Promise<unknown> = Promise.resolve();
    const renew = setInterval(() => {
      const next = new Date(Date.now() + ms);
      writes = writes
        .then(() => this.db.update(sessions).set({ turnUntil: next }).where(mine()).run())
        .then(() => (until = next))
        .catch(() => {});
    }, ms / 3);
    return {
      release: () => {
        clearInterval(renew);
        return writes.then(() => this.db.update(sessions).set({ turnUntil: null }).where(mine()).run());
      },
    };
  }

  /** Updates a running turn's session in memory only (a self-contained request keeps nothing). */
  note(record: SessionRecord, patch: SessionPatch): void {
    if (this.#turns.has(record.id)) this.#turns.set(record.id, { ...record, ...patch });
  }

  #remember(record: SessionRecord): void {
    this.#cache.set(record.id, record);
    if (this.#turns.has(record.id)) this.#turns.set(record.id, record);
  }

  /** Deletes sessions idle for longer than the TTL; returns how many. */
  async sweep(): Promise<number> {
    return changes(await this.db.delete(sessions).where(lt(sessions.updatedAt, this.#expiredBefore())).run());
  }

  #expiredBefore(): Date {
    return new Date(Date.now() - this.ttlMs);
  }
}

interface TurnLease {
  release(): Promise<unknown>;
}

function sessionBusy(id: string): AppError {
  return new AppError(409, `Session ${id} is already generating an answer: wait for it, or POST /v1/stop`, {
    code: 'session_busy',
  });
}

/** Rows a write changed: libSQL answers `rowsAffected`, D1 `meta.changes`. */
function changes(result: unknown): number {
  const { rowsAffected, meta } = result as { rowsAffected?: number; meta?: { changes?: number } };
  return rowsAffected ?? meta?.changes ?? 0;
}

/** The newest messages that fit the count and byte caps; a leading system message is kept. */
export function boundedHistory(messages: ChatMessage[]): ChatMessage[] {
  const system = messages[0]?.role === 'system' || messages[0]?.role === 'developer' ? messages[0] : undefined;
  const turns = (system ? messages.slice(1) : messages).slice(-MAX_HISTORY);
  let chars = system ? JSON.stringify(system).length : 0;
  let start = turns.length;
  while (start > 0) {
    const size = JSON.stringify(turns[start - 1]).length + 1;
    if (chars + size > MAX_HISTORY_CHARS) break;
    chars += size;
    start--;
  }
  const kept = turns.slice(start);
  return system ? [system, ...kept] : kept;
}
