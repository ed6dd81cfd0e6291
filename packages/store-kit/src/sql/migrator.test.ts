/**
 * The shared migrator's decisions, without a database: file discovery and ordering, the
 * checksum (line endings are not an edit), and which migrations are pending.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { MigrationError, loadMigrations, migrateSync, migrationChecksum, pendingMigrations, type AppliedMigration, type Migration } from './migrator.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A directory URL holding the given files. */
function dirWith(files: Record<string, string>): URL {
  const dir = mkdtempSync(join(tmpdir(), 'weft-migrations-'));
  dirs.push(dir);
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return pathToFileURL(`${dir}/`);
}

const m = (version: number, sql = `-- ${version}`): Migration => ({
  version,
  name: `${String(version).padStart(4, '0')}_m.sql`,
  sql,
  checksum: migrationChecksum(sql),
});
const applied = (x: Migration): AppliedMigration => ({ version: x.version, name: x.name, checksum: x.checksum });

describe('shared migrator', () => {
  it('loads numbered .sql files in version order and ignores everything else', () => {
    const dir = dirWith({ '0002_b.sql': 'B', '0001_a.sql': 'A', 'README.md': 'x', '0003_Bad-Name.sql': 'C', 'notes.sql': 'D' });
    expect(loadMigrations(dir).map((x) => [x.version, x.name, x.sql])).toEqual([
      [1, '0001_a.sql', 'A'],
      [2, '0002_b.sql', 'B'],
    ]);
  });

  it('refuses two files with one version', () => {
    const dir = dirWith({ '0001_a.sql': 'A', '0001_b.sql': 'B' });
    expect(() => loadMigrations(dir)).toThrow(MigrationError);
  });

  it('a CRLF checkout has the same checksum; any other change does not', () => {
    expect(migrationChecksum('CREATE TABLE t (a INT);\r\n')).toBe(migrationChecksum('CREATE TABLE t (a INT);\n'));
    expect(migrationChecksum('CREATE TABLE t (a INT);\n')).not.toBe(migrationChecksum('CREATE TABLE t (b INT);\n'));
  });

  it('pending are the unapplied migrations in order; an applied one with another checksum is an error', () => {
    const ms = [m(1), m(2), m(3)];
    expect(pendingMigrations([], ms).map((x) => x.version)).toEqual([1, 2, 3]);
    expect(pendingMigrations([applied(m(2))], ms).map((x) => x.version)).toEqual([1, 3]);
    expect(pendingMigrations(ms.map(applied), ms)).toEqual([]);
    expect(() => pendingMigrations([{ ...applied(m(2)), checksum: '0'.repeat(64) }], ms)).toThrow(/0002_m\.sql was edited/);
  });

  it('a pass runs and records each pending file once, after creating the table', () => {
    const log: string[] = [];
    const recorded: AppliedMigration[] = [applied(m(1))];
    const session = {
      ensureTable: () => void log.push('table'),
      applied: () => [...recorded],
      exec: (sql: string) => void log.push(`exec ${sql}`),
      record: (x: Migration) => void recorded.push(applied(x)),
    };
    expect(migrateSync(session, [m(1), m(2), m(3)])).toBe(2);
    expect(log).toEqual(['table', 'exec -- 2', 'exec -- 3']);
    expect(migrateSync(session, [m(1), m(2), m(3)])).toBe(0);
  });
});
