/**
 * The shared statements bind by position in SQLite, so each must use its parameters once and
 * in ascending order; the Postgres spelling shows that order.
 */
import { describe, expect, it } from 'vitest';
import { postgresDialect, sqliteDialect } from './dialect.js';
import { secretStatements } from './secrets.js';
import { sharedStatements } from './statements.js';

const pg = { ...sharedStatements(postgresDialect), ...prefixed(secretStatements(postgresDialect)) };
const lite = { ...sharedStatements(sqliteDialect), ...prefixed(secretStatements(sqliteDialect)) };

/** The secret statements under `secret.<name>`, beside the shared ones. */
function prefixed<T extends Record<string, string>>(o: T): Record<`secret.${string & keyof T}`, string> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [`secret.${k}`, v])) as Record<`secret.${string & keyof T}`, string>;
}

describe('shared statements', () => {
  it.each(Object.keys(pg) as (keyof typeof pg)[])('%s uses $1..$n once each, in order, and the SQLite text matches it', (name) => {
    const used = [...pg[name].matchAll(/\$(\d+)/g)].map((m) => Number(m[1]));
    expect(used).toEqual(used.map((_, i) => i + 1));
    expect(lite[name].split('?').length - 1).toBe(used.length);
    expect(lite[name].replace(/\?/g, () => '$_')).toBe(pg[name].replace(/\$\d+/g, '$_'));
  });

  it('spells a Postgres read exactly as the store ran it before the split', () => {
    expect(pg.readEvents).toBe('SELECT sequence, type, node_id, json FROM run_events WHERE run_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3');
    expect(lite.idemRelease).toBe("DELETE FROM idempotency WHERE tenant = ? AND route = ? AND key = ? AND owner = ? AND state = 'pending'");
  });

  it('upsert spells the conflict target and the excluded columns', () => {
    expect(sqliteDialect.upsert(['run_id', 'key'], ['fire_at'])).toBe('ON CONFLICT (run_id, key) DO UPDATE SET fire_at = excluded.fire_at');
    expect(postgresDialect.upsert(['id'], ['hash', 'x'])).toBe('ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, x = excluded.x');
  });
});
