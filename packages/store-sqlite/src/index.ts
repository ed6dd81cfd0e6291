export { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
export { MigrationError, MIGRATIONS_DIR, loadMigrations, applyMigrations, type Migration } from './migrator.js';
