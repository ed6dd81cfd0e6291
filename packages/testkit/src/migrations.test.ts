/**
 * The two SQL stores keep one migration history: the same numbered files, each dialect's own
 * SQL. A migration added to one store only would let the schemas drift apart.
 */
import { describe, expect, it } from 'vitest';
import { loadMigrations as sqliteMigrations } from '@weft/store-sqlite';
import { loadMigrations as postgresMigrations } from '@weft/store-postgres';

describe('migration history', () => {
  // Numbers are reserved per change (decision records and migrations alike), so a number whose
  // change has not landed yet is a gap: versions must be unique and increasing, not contiguous.
  it('SQLite and Postgres ship the same numbered migrations, in increasing order', () => {
    const names = (ms: { name: string }[]): string[] => ms.map((m) => m.name);
    const sqlite = sqliteMigrations();
    expect(names(sqlite)).toEqual(names(postgresMigrations()));
    const versions = sqlite.map((m) => m.version);
    expect(versions[0]).toBe(1);
    for (let i = 1; i < versions.length; i++) expect(versions[i] as number).toBeGreaterThan(versions[i - 1] as number);
  });
});
