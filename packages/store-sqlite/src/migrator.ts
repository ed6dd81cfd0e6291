/**
 * SQLite's side of the shared migrator (`@weft/store-kit`): the pass runs in one
 * `BEGIN IMMEDIATE` transaction, so two processes opening the same file cannot both apply a
 * migration.
 */
import type Database from 'better-sqlite3';
import { loadMigrations as loadMigrationFiles, migrateSync, type AppliedMigration, type Migration } from '@weft/store-kit';

export { MigrationError, type Migration } from '@weft/store-kit';

/**
 * The migrations shipped with this package. `tsc` does not copy `.sql` files, so they are read
 * from `migrations/` beside `src/` and `dist/` (the same relative path from both).
 */
export const MIGRATIONS_DIR: URL = new URL('../migrations/', import.meta.url);

/** Reads and orders the migration files in `dir`. */
export function loadMigrations(dir: URL = MIGRATIONS_DIR): Migration[] {
  return loadMigrationFiles(dir);
}

/** Applies pending migrations in one `BEGIN IMMEDIATE` transaction. Returns the number applied. */
export function applyMigrations(db: Database.Database, migrations: Migration[], now: () => string = () => new Date().toISOString()): number {
  const pass = db.transaction((): number =>
    migrateSync(
      {
        ensureTable: () =>
          db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT NOT NULL,
            checksum   TEXT NOT NULL,
            applied_at TEXT NOT NULL
          ) STRICT`),
        applied: () => db.prepare<[], AppliedMigration>('SELECT version, name, checksum FROM schema_migrations').all(),
        exec: (sql) => db.exec(sql),
        record: (m) =>
          db.prepare('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)').run(m.version, m.name, m.checksum, now()),
      },
      migrations,
    ),
  );
  return pass.immediate();
}
