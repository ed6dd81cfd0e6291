export { PostgresStore, type PostgresStoreOptions } from './postgres-store.js';
export { MigrationError, MIGRATIONS_DIR, MIGRATION_LOCK_KEY, loadMigrations, applyMigrations, type Migration } from './migrator.js';
export { PostgresNotifier, type PostgresNotifierOptions } from './notifier.js';
