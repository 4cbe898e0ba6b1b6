import { createClient } from '@libsql/client';
import { drizzle as drizzleD1 } from 'drizzle-orm/d1';
import { drizzle as drizzleLibsql } from 'drizzle-orm/libsql';
import { sql } from 'drizzle-orm';
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import * as schema from './schema.ts';

/** The database every room talks to: libSQL (file, `libsql://`, `https://`) or D1, one schema. */
export type Db = BaseSQLiteDatabase<'async', unknown, typeof schema>;

export type DbConfig =
  /** A libSQL URL: `file:./data/edgerunner.db`, `libsql://…` (Turso) or `http(s)://…`. */
  | { url: string; authToken?: string }
  /** A D1 binding (Workers). */
  | { d1: D1LikeDatabase };

/** The part of a D1 binding drizzle needs (kept structural so Node code can type-check without Workers types). */
export type D1LikeDatabase = Parameters<typeof drizzleD1>[0];

/**
 * How long a write to a local file waits for another connection's lock (another process such as
 * `npm run keys`, or a connection of this one) before failing with SQLITE_BUSY: 10 s.
 */
export const BUSY_TIMEOUT_MS = 10_000;

/** Opens the database the configuration names. A `file:` database then needs {@link prepareFileDb}. */
export function createDb(config: DbConfig): Db {
  if ('d1' in config) return drizzleD1(config.d1, { schema }) as unknown as Db;
  const client = createClient({ url: config.url, authToken: config.authToken, timeout: BUSY_TIMEOUT_MS });
  return drizzleLibsql(client, { schema }) as unknown as Db;
}

/**
 * Puts a local file database in WAL mode (kept in the file): readers never block the writer, and
 * with the busy timeout that every connection gets, a second writing process waits its turn instead
 * of failing. Rollback-journal mode with no timeout lost acknowledged writes (FACTS.md).
 */
export async function prepareFileDb(db: Db): Promise<void> {
  const [row] = await db.all<{ journal_mode: string }>(sql`PRAGMA journal_mode = WAL`);
  if (row?.journal_mode !== 'wal') throw new Error(`the database refused WAL mode (it answered ${row?.journal_mode})`);
}

export { schema };
