/**
 * The SQLite migrator: numbered plain-SQL files applied in order, each recorded with a
 * checksum in `schema_migrations` so an edited landed migration is caught instead of
 * silently diverging between databases.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type Database from 'better-sqlite3';

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
 * Applies pending migrations in one `BEGIN IMMEDIATE` transaction, so two processes opening
 * the same file cannot both apply a migration. Returns the number applied.
 */
export function applyMigrations(db: Database.Database, migrations: Migration[], now: () => string = () => new Date().toISOString()): number {
  const run = db.transaction((): number => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      checksum   TEXT NOT NULL,
      applied_at TEXT NOT NULL
    ) STRICT`);
    const applied = new Map<number, AppliedRow>();
    for (const row of db.prepare<[], AppliedRow>('SELECT version, name, checksum FROM schema_migrations').all()) {
      applied.set(row.version, row);
    }
    const record = db.prepare<[number, string, string, string]>('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)');
    let count = 0;
    for (const m of migrations) {
      const done = applied.get(m.version);
      if (done) {
        if (done.checksum !== m.checksum) {
          throw new MigrationError(`migration ${m.name} was edited after it was applied (checksum differs)`, m);
        }
        continue;
      }
      db.exec(m.sql);
      record.run(m.version, m.name, m.checksum, now());
      count++;
    }
    return count;
  });
  return run.immediate();
}
