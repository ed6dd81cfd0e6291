/**
 * The tiny adapter between the two SQL dialects the stores speak. The schemas are the same
 * column for column and both keep JSON as text (so a stored event is streamed byte for byte),
 * which leaves little to adapt: how a positional parameter is spelled and the upsert clause.
 * Cross-process serialisation is the store's own (SQLite: `BEGIN IMMEDIATE` on the one file;
 * Postgres: `pg_advisory_xact_lock`), and never reaches shared statement text.
 */

/** A dialect of SQL. */
export interface SqlDialect {
  readonly name: 'sqlite' | 'postgres';
  /**
   * The `n`-th positional parameter (1-based): `$n` for Postgres, `?` for SQLite, which binds
   * by position — so a shared statement uses each parameter once, in ascending order.
   */
  param(n: number): string;
  /** `ON CONFLICT (keys) DO UPDATE SET c = excluded.c, …` (the same in both, SQLite ≥ 3.24). */
  upsert(keys: readonly string[], set: readonly string[]): string;
}

const upsert = (keys: readonly string[], set: readonly string[]): string =>
  `ON CONFLICT (${keys.join(', ')}) DO UPDATE SET ${set.map((c) => `${c} = excluded.${c}`).join(', ')}`;

/** SQLite through better-sqlite3. */
export const sqliteDialect: SqlDialect = { name: 'sqlite', param: () => '?', upsert };

/** PostgreSQL through pg. */
export const postgresDialect: SqlDialect = { name: 'postgres', param: (n) => `$${n}`, upsert };
