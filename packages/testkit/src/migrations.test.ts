/**
 * The two SQL stores keep one migration history: the same numbered files, each dialect's own
 * SQL. A migration added to one store only would let the schemas drift apart.
 */
import { describe, expect, it } from 'vitest';
import { loadMigrations as sqliteMigrations } from '@weft/store-sqlite';
import { loadMigrations as postgresMigrations } from '@weft/store-postgres';

describe('migration history', () => {
  it('SQLite and Postgres ship the same numbered migrations, without gaps', () => {
    const names = (ms: { name: string }[]): string[] => ms.map((m) => m.name);
    const sqlite = sqliteMigrations();
    expect(names(sqlite)).toEqual(names(postgresMigrations()));
    expect(sqlite.map((m) => m.version)).toEqual(sqlite.map((_, i) => i + 1));
  });
});
