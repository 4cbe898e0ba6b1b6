import { createClient } from '@libsql/client';
import { drizzle as drizzleD1 } from 'drizzle-orm/d1';
import { drizzle as drizzleLibsql } from 'drizzle-orm/libsql';
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

/** Opens the database the configuration names. */
export function createDb(config: DbConfig): Db {
  if ('d1' in config) return drizzleD1(config.d1, { schema }) as unknown as Db;
  const client = createClient({ url: config.url, authToken: config.authToken });
  return drizzleLibsql(client, { schema }) as unknown as Db;
}

export { schema };
