/**
 * `secrets` on Postgres: the {@link SecretStore} port, kept apart from the store class like the
 * command rows. Every statement text comes from `@weft/store-kit`; each method is one
 * statement (the compare-and-set is one conditional UPDATE).
 */
import type pg from 'pg';
import {
  postgresDialect,
  replaceSecretValues,
  secretStatements,
  secretValues,
  toSecret,
  type SecretExpectation,
  type SecretRecord,
  type SecretRow,
  type SecretStore,
} from '@weft/store-kit';

/** Runs a named prepared statement (the store's pooled, error-classifying query). */
export type PgSecretQuery = <R extends pg.QueryResultRow>(name: `secret_${string}`, text: string, values: unknown[]) => Promise<pg.QueryResult<R>>;

const SQL = secretStatements(postgresDialect);

/** The secret statements, run through the store's query function. */
export class PgSecrets implements SecretStore {
  constructor(private readonly q: PgSecretQuery) {}

  async createSecret(secret: SecretRecord): Promise<boolean> {
    return ((await this.q('secret_insert', SQL.insert, secretValues(secret))).rowCount ?? 0) === 1;
  }

  async getSecret(tenant: string, secretId: string): Promise<SecretRecord | undefined> {
    const { rows } = await this.q<SecretRow<string>>('secret_get', SQL.get, [tenant, secretId]);
    return rows[0] && toSecret(rows[0]);
  }

  async listSecrets(tenant: string): Promise<SecretRecord[]> {
    const { rows } = await this.q<SecretRow<string>>('secret_list', SQL.list, [tenant]);
    return rows.map(toSecret);
  }

  async replaceSecret(tenant: string, secretId: string, expected: SecretExpectation, next: SecretRecord): Promise<boolean> {
    return ((await this.q('secret_replace', SQL.replace, replaceSecretValues(tenant, secretId, expected, next))).rowCount ?? 0) === 1;
  }

  async deleteSecret(tenant: string, secretId: string, version?: number): Promise<boolean> {
    const r =
      version === undefined
        ? await this.q('secret_delete', SQL.delete, [tenant, secretId])
        : await this.q('secret_deleteAt', SQL.deleteAt, [tenant, secretId, version]);
    return (r.rowCount ?? 0) === 1;
  }

  async listSecretsNotWrappedBy(masterKeyId: string, limit: number): Promise<SecretRecord[]> {
    const { rows } = await this.q<SecretRow<string>>('secret_notWrappedBy', SQL.notWrappedBy, [masterKeyId, Math.max(0, Math.trunc(limit))]);
    return rows.map(toSecret);
  }
}
