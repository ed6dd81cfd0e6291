/**
 * The Postgres migrator: numbered plain-SQL files applied in order inside one transaction
 * that first takes a transaction-scoped advisory lock, so several host processes starting
 * against the same database migrate one after another instead of racing. Each applied file
 * is recorded with a checksum in `schema_migrations` so an edited landed migration is caught
 * instead of silently diverging between databases.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type pg from 'pg';

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

/**
 * The migrations shipped with this package. `tsc` does not copy `.sql` files, so they are read
 * from `migrations/` beside `src/` and `dist/` (the same relative path from both).
 */
export const MIGRATIONS_DIR: URL = new URL('../migrations/', import.meta.url);

const FILE_PATTERN = /^(\d{4})_[a-z0-9_]+\.sql$/;

/** Reads and orders the migration files in `dir`. */
export function loadMigrations(dir: URL = MIGRATIONS_DIR): Migration[] {
  const out: Migration[] = [];
  for (const name of readdirSync(dir)) {
    const m = FILE_PATTERN.exec(name);
    if (!m) continue;
    const sql = readFileSync(new URL(name, dir), 'utf8');
    out.push({ version: Number(m[1]), name, sql, checksum: checksum(sql) });
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

function checksum(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

/**
 * Key of the advisory lock that serialises migrations ("WEFT" in ASCII). Advisory locks are
 * per database, so unrelated databases on one server do not wait for each other.
 */
export const MIGRATION_LOCK_KEY = 0x57454654;

/**
 * Applies pending migrations in one transaction under `pg_advisory_xact_lock`; DDL is
 * transactional in Postgres, so a failed migration leaves nothing half-applied. Returns the
 * number applied.
 */
export async function applyMigrations(pool: pg.Pool, migrations: Migration[]): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      checksum   TEXT NOT NULL,
      applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    const applied = new Map<number, AppliedRow>();
    for (const row of (await client.query<AppliedRow>('SELECT version, name, checksum FROM schema_migrations')).rows) {
      applied.set(row.version, row);
    }
    let count = 0;
    for (const m of migrations) {
      const done = applied.get(m.version);
      if (done) {
        if (done.checksum !== m.checksum) {
          throw new MigrationError(`migration ${m.name} was edited after it was applied (checksum differs)`, m);
        }
        continue;
      }
      // No parameters: the simple protocol runs a multi-statement file in one round trip.
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
      count++;
    }
    await client.query('COMMIT');
    return count;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
