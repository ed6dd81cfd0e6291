/**
 * The one migrator of both SQL stores: numbered plain-SQL files applied in order, each
 * recorded with a checksum in `schema_migrations` so an edited landed migration is caught
 * instead of silently diverging between databases. What differs per database — how the
 * migration transaction is opened and serialised across processes, and how SQL runs — is the
 * session a store hands in ({@link SyncMigrationSession}, {@link AsyncMigrationSession}).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

/** One numbered migration file. */
export interface Migration {
  version: number;
  /** File name, e.g. `0001_init.sql`. */
  name: string;
  sql: string;
  /** sha256 of the SQL with line endings normalised (a CRLF checkout is not an edit). */
  checksum: string;
}

/** Raised when the database and the migration files disagree about history. */
export class MigrationError extends Error {
  constructor(
    message: string,
    readonly context: { version: number; name: string },
  ) {
    super(message);
    this.name = 'MigrationError';
  }
}

const FILE_PATTERN = /^(\d{4})_[a-z0-9_]+\.sql$/;

/** Reads and orders the migration files in `dir` (a store package's `migrations/`). */
export function loadMigrations(dir: URL): Migration[] {
  const out: Migration[] = [];
  for (const name of readdirSync(dir)) {
    const m = FILE_PATTERN.exec(name);
    if (!m) continue;
    const sql = readFileSync(new URL(name, dir), 'utf8');
    out.push({ version: Number(m[1]), name, sql, checksum: migrationChecksum(sql) });
  }
  out.sort((a, b) => a.version - b.version);
  for (let i = 1; i < out.length; i++) {
    const prev = out[i - 1] as Migration;
    const cur = out[i] as Migration;
    if (prev.version === cur.version) {
      throw new MigrationError(`two migrations share version ${cur.version}: ${prev.name}, ${cur.name}`, cur);
    }
  }
  return out;
}

/** sha256 (hex) of the SQL with CRLF normalised to LF. */
export function migrationChecksum(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}

/** A row of `schema_migrations`. */
export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
}

/**
 * The database side of one migration pass, inside a transaction the store has opened and
 * holds exclusively (SQLite `BEGIN IMMEDIATE`, Postgres `pg_advisory_xact_lock`).
 */
export interface SyncMigrationSession {
  /** Creates `schema_migrations` if missing (the column types are the dialect's). */
  ensureTable(): void;
  applied(): AppliedMigration[];
  /** Runs one migration file (several statements, no parameters). */
  exec(sql: string): void;
  record(m: Migration): void;
}

/** {@link SyncMigrationSession} for a driver that answers with promises (pg). */
export type AsyncMigrationSession = {
  [K in keyof SyncMigrationSession]: (...args: Parameters<SyncMigrationSession[K]>) => Promise<ReturnType<SyncMigrationSession[K]>>;
};

/**
 * The pending migrations, in order, after checking that every applied one still has its
 * recorded checksum. Throws {@link MigrationError} on an edited landed migration.
 */
export function pendingMigrations(applied: readonly AppliedMigration[], migrations: readonly Migration[]): Migration[] {
  const byVersion = new Map(applied.map((a) => [a.version, a]));
  return migrations.filter((m) => {
    const done = byVersion.get(m.version);
    if (done && done.checksum !== m.checksum) {
      throw new MigrationError(`migration ${m.name} was edited after it was applied (checksum differs)`, m);
    }
    return !done;
  });
}

/** One migration pass with a synchronous session (call inside the store's transaction). Returns the number applied. */
export function migrateSync(session: SyncMigrationSession, migrations: readonly Migration[]): number {
  session.ensureTable();
  const pending = pendingMigrations(session.applied(), migrations);
  for (const m of pending) {
    session.exec(m.sql);
    session.record(m);
  }
  return pending.length;
}

/** One migration pass with an asynchronous session (call inside the store's transaction). Returns the number applied. */
export async function migrateAsync(session: AsyncMigrationSession, migrations: readonly Migration[]): Promise<number> {
  await session.ensureTable();
  const pending = pendingMigrations(await session.applied(), migrations);
  for (const m of pending) {
    await session.exec(m.sql);
    await session.record(m);
  }
  return pending.length;
}
