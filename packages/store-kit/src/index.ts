export * from './ports.js';
export * from './memory.js';
export * from './sql/statuses.js';
export * from './sql/migrator.js';
export * from './sql/rows.js';
export * from './sql/dialect.js';
export * from './sql/statements.js';
export * from './sql/secrets.js';
