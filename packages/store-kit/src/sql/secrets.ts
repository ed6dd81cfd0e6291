/**
 * The `secrets` table both SQL stores share (migration 0004): its columns, row type, mapper and
 * every statement — all dialect-neutral, so both stores run the same text (but for parameter
 * spelling). The row holds ciphertext only: the sealed value, the wrapped data key and the id of
 * the master key that wrapped it.
 *
 * @see ../ports.ts SecretStore
 */
import type { SecretRecord } from '../ports.js';
import type { SqlDialect } from './dialect.js';
import type { Int } from './rows.js';

/** Column list of `secrets`, in {@link secretValues} order. */
export const SECRET_COLUMNS = 'tenant, secret_id, version, description, created_at, updated_at, master_key_id, wrapped_key, ciphertext';

/** A `secrets` row. */
export interface SecretRow<I extends Int = Int> {
  tenant: string;
  secret_id: string;
  version: I;
  description: string | null;
  created_at: I;
  updated_at: I;
  master_key_id: string;
  wrapped_key: string;
  ciphertext: string;
}

/** The values of a `secrets` row, in {@link SECRET_COLUMNS} order. */
export function secretValues(s: SecretRecord): [string, string, number, string | null, number, number, string, string, string] {
  return [s.tenant, s.secretId, s.version, s.description, s.createdAt, s.updatedAt, s.masterKeyId, s.wrappedKey, s.ciphertext];
}

/** A row as a port record. */
export function toSecret(r: SecretRow): SecretRecord {
  return {
    tenant: r.tenant,
    secretId: r.secret_id,
    version: Number(r.version),
    description: r.description,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    masterKeyId: r.master_key_id,
    wrappedKey: r.wrapped_key,
    ciphertext: r.ciphertext,
  };
}

/**
 * The secret statements, spelled for one dialect. Parameters appear once each, in the order
 * the store passes them (SQLite binds by position).
 */
export function secretStatements(d: SqlDialect) {
  const $ = d.param;
  return {
    /** {@link secretValues}; the primary key makes a duplicate do nothing (0 rows). */
    insert: `INSERT INTO secrets (${SECRET_COLUMNS}) VALUES (${$(1)}, ${$(2)}, ${$(3)}, ${$(4)}, ${$(5)}, ${$(6)}, ${$(7)}, ${$(8)}, ${$(9)}) ON CONFLICT (tenant, secret_id) DO NOTHING`,
    /** (tenant, secretId) */
    get: `SELECT ${SECRET_COLUMNS} FROM secrets WHERE tenant = ${$(1)} AND secret_id = ${$(2)}`,
    /** (tenant) */
    list: `SELECT ${SECRET_COLUMNS} FROM secrets WHERE tenant = ${$(1)} ORDER BY secret_id`,
    /** (version, description, updatedAt, masterKeyId, wrappedKey, ciphertext, tenant, secretId, expectedVersion, expectedMasterKeyId) */
    replace: `UPDATE secrets SET version = ${$(1)}, description = ${$(2)}, updated_at = ${$(3)}, master_key_id = ${$(4)}, wrapped_key = ${$(5)}, ciphertext = ${$(6)} WHERE tenant = ${$(7)} AND secret_id = ${$(8)} AND version = ${$(9)} AND master_key_id = ${$(10)}`,
    /** (tenant, secretId) */
    delete: `DELETE FROM secrets WHERE tenant = ${$(1)} AND secret_id = ${$(2)}`,
    /** (tenant, secretId, version) */
    deleteAt: `DELETE FROM secrets WHERE tenant = ${$(1)} AND secret_id = ${$(2)} AND version = ${$(3)}`,
    /** (masterKeyId, limit) */
    notWrappedBy: `SELECT ${SECRET_COLUMNS} FROM secrets WHERE master_key_id <> ${$(1)} ORDER BY tenant, secret_id LIMIT ${$(2)}`,
  } as const;
}

/** The values of {@link secretStatements}' `replace`, in order. */
export function replaceSecretValues(tenant: string, secretId: string, expected: { version: number; masterKeyId: string }, next: SecretRecord): unknown[] {
  return [
    next.version,
    next.description,
    next.updatedAt,
    next.masterKeyId,
    next.wrappedKey,
    next.ciphertext,
    tenant,
    secretId,
    expected.version,
    expected.masterKeyId,
  ];
}
