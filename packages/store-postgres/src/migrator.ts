/**
 * Postgres's side of the shared migrator (`@weft/store-kit`): the pass runs in one
 * transaction that first takes a transaction-scoped advisory lock, so several host processes
 * starting against the same database migrate one after another instead of racing. DDL is
 * transactional in Postgres, so a failed migration leaves nothing half-applied.
 */
import type pg from 'pg';
import { loadMigrations as loadMigrationFiles, migrateAsync, type AppliedMigration, type Migration } from '@weft/store-kit';

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

/**
 * Key of the advisory lock that serialises migrations ("WEFT" in ASCII). Advisory locks are
 * per database, so unrelated databases on one server do not wait for each other.
 */
export const MIGRATION_LOCK_KEY = 0x57454654;

/** Applies pending migrations in one transaction under `pg_advisory_xact_lock`. Returns the number applied. */
export async function applyMigrations(pool: pg.Pool, migrations: Migration[]): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    const count = await migrateAsync(
      {
        ensureTable: async () => {
          await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT NOT NULL,
            checksum   TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
          )`);
        },
        applied: async () => (await client.query<AppliedMigration>('SELECT version, name, checksum FROM schema_migrations')).rows,
        // No parameters: the simple protocol runs a multi-statement file in one round trip.
        exec: async (sql) => {
          await client.query(sql);
        },
        record: async (m) => {
          await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
        },
      },
      migrations,
    );
    await client.query('COMMIT');
    return count;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
