import { and, asc, desc, eq, isNull, lt, max, or, type SQL } from 'drizzle-orm';
import type { AnySQLiteColumn } from 'drizzle-orm/sqlite-core';
import type { Db } from '../../drizzle/db.ts';
import { messages, threads } from '../../drizzle/schema.ts';
import { AppError } from '../../shared/errors.ts';
import type { ExecMessage } from '../../shared/schemas/exec.ts';
import type { Principal } from '../env.ts';

/** Messages one thread keeps; a round that would pass it is a 409 (start a new thread). */
export const MAX_THREAD_MESSAGES = 2_000;

export interface ThreadSummary {
  id: string;
  created_at: number;
  updated_at: number;
  metadata: Record<string, unknown> | null;
}

/** Who owns what the agent API stores: the caller's project, or with no project the caller itself. */
export function ownerFilter(table: { projectId: AnySQLiteColumn; principal: AnySQLiteColumn }, owner: Principal): SQL {
  return owner.projectId
    ? eq(table.projectId, owner.projectId)
    : and(isNull(table.projectId), eq(table.principal, owner.id))!;
}

function notFound(id: string): AppError {
  return new AppError(404, `Thread ${id} not found`, { code: 'thread_not_found', param: 'thread_id' });
}

const EXTRA_KEYS = ['name', 'reasoning', 'tool_calls', 'tool_call_id', 'approvals'] as const;

function toRow(threadId: string, seq: number, m: ExecMessage) {
  const extra: Record<string, unknown> = {};
  for (const key of EXTRA_KEYS) if (m[key] !== undefined) extra[key] = m[key];
  return {
    id: crypto.randomUUID(),
    threadId,
    seq,
    role: m.role,
    content: m.content ?? null,
    extra: Object.keys(extra).length ? extra : null,
  };
}

function fromRow(row: { role: string; content: string | null; extra: Record<string, unknown> | null }): ExecMessage {
  return { role: row.role as ExecMessage['role'], content: row.content, ...(row.extra ?? {}) };
}

/**
 * Threads of `/llm-exec` (`thread_id`): a conversation stored message by message, owned by the caller's
 * project (any key or token of it sees it) or, without a project, by the caller. Another owner's thread
 * is a 404, never a 403: ids do not leak.
 */
export class ThreadStore {
  /** Threads with a round running in this process. */
  readonly #busy = new Set<string>();

  constructor(private readonly db: Db) {}

  /**
   * Holds the thread for one round: a second round on it while one runs is a 409 (its history would miss
   * the first one's messages). Across processes the append's sequence check does the same. Returns the release.
   */
  begin(id: string): () => void {
    if (this.#busy.has(id)) {
      throw new AppError(409, `Thread ${id} has a round running: wait for it to end`, {
        code: 'thread_busy',
        param: 'thread_id',
      });
    }
    this.#busy.add(id);
    return () => void this.#busy.delete(id);
  }

  async create(owner: Principal, metadata?: Record<string, unknown>): Promise<ThreadSummary> {
    const id = `thread_${crypto.randomUUID().replace(/-/g, '')}`;
    const now = Date.now();
    await this.db.insert(threads).values({
      id,
      projectId: owner.projectId,
      principal: owner.id,
      metadata: metadata ?? null,
      createdAt: new Date(now),
      updatedAt: new Date(now),
    });
    return { id, created_at: now, updated_at: now, metadata: metadata ?? null };
  }

  async get(id: string, owner: Principal): Promise<ThreadSummary> {
    const [row] = await this.db
      .select()
      .from(threads)
      .where(and(eq(threads.id, id), ownerFilter(threads, owner)))
      .limit(1);
    if (!row) throw notFound(id);
    return summary(row);
  }

  /** The thread's messages in order (404 when it is not the caller's). */
  async messages(id: string, owner: Principal): Promise<ExecMessage[]> {
    await this.get(id, owner);
    const rows = await this.db
      .select({ role: messages.role, content: messages.content, extra: messages.extra })
      .from(messages)
      .where(eq(messages.threadId, id))
      .orderBy(asc(messages.seq));
    return rows.map(fromRow);
  }

  /** A 409 when `adding` more messages would pass MAX_THREAD_MESSAGES (checked before a round runs, and at append). */
  checkRoom(id: string, count: number, adding = 1): void {
    if (count + adding <= MAX_THREAD_MESSAGES) return;
    throw new AppError(409, `Thread ${id} is full (${MAX_THREAD_MESSAGES} messages): start a new thread`, {
      code: 'thread_full',
      param: 'thread_id',
    });
  }

  /**
   * Appends messages after the `after` messages the round read. If another writer (another process) appended
   * meanwhile, the round's messages would follow history it never saw: a 409 `thread_conflict` instead (the
   * unique (thread, seq) index makes the check atomic).
   */
  async append(id: string, added: readonly ExecMessage[], { after }: { after: number }): Promise<void> {
    if (added.length === 0) return;
    const [last] = await this.db
      .select({ seq: max(messages.seq) })
      .from(messages)
      .where(eq(messages.threadId, id));
    const conflict = () =>
      new AppError(409, `Thread ${id} changed while this round ran: its messages were not stored`, {
        code: 'thread_conflict',
        param: 'thread_id',
      });
    if ((last?.seq ?? -1) + 1 !== after) throw conflict();
    this.checkRoom(id, after, added.length);
    try {
      await this.db.insert(messages).values(added.map((m, i) => toRow(id, after + i, m)));
    } catch (err) {
      if (/UNIQUE/i.test(`${(err as Error)?.message} ${((err as Error)?.cause as Error | undefined)?.message}`))
        throw conflict();
      throw err;
    }
    await this.db.update(threads).set({ updatedAt: new Date() }).where(eq(threads.id, id));
  }

  /** The caller's threads, newest first; `after` (the last id of the previous page) pages back, as OpenAI's lists do. */
  async list(owner: Principal, { limit = 20, after }: { limit?: number; after?: string } = {}) {
    let older: SQL | undefined;
    if (after) {
      const cursor = await this.get(after, owner);
      const at = new Date(cursor.created_at);
      older = or(lt(threads.createdAt, at), and(eq(threads.createdAt, at), lt(threads.id, cursor.id)));
    }
    const rows = await this.db
      .select()
      .from(threads)
      .where(and(ownerFilter(threads, owner), older))
      .orderBy(desc(threads.createdAt), desc(threads.id))
      .limit(limit + 1);
    const data = rows.slice(0, limit).map(summary);
    return { data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: rows.length > limit };
  }

  /** Removes the thread and its messages; 404 when it is not the caller's. */
  async delete(id: string, owner: Principal): Promise<void> {
    await this.get(id, owner);
    await this.db.delete(messages).where(eq(messages.threadId, id));
    await this.db.delete(threads).where(eq(threads.id, id));
  }
}

function summary(row: typeof threads.$inferSelect): ThreadSummary {
  return {
    id: row.id,
    created_at: row.createdAt.getTime(),
    updated_at: row.updatedAt.getTime(),
    metadata: row.metadata ?? null,
  };
}
