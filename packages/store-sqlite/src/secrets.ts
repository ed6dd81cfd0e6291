/**
 * `secrets` on SQLite: the {@link SecretStore} port, kept apart from the store class like the
 * command rows. Every statement text comes from `@weft/store-kit`; each method is one
 * statement, so SQLite's single writer makes the compare-and-set atomic.
 */
import type Database from 'better-sqlite3';
import {
  replaceSecretValues,
  secretStatements,
  secretValues,
  sqliteDialect,
  toSecret,
  type SecretExpectation,
  type SecretRecord,
  type SecretRow,
  type SecretStore,
} from '@weft/store-kit';

const SQL = secretStatements(sqliteDialect);

/** Prepared statements for the secrets of one database (prepare after migrating). */
export class SqliteSecrets implements SecretStore {
  private readonly insert: Database.Statement<unknown[]>;
  private readonly get: Database.Statement<[string, string], SecretRow<number>>;
  private readonly list: Database.Statement<[string], SecretRow<number>>;
  private readonly replace: Database.Statement<unknown[]>;
  private readonly del: Database.Statement<[string, string]>;
  private readonly delAt: Database.Statement<[string, string, number]>;
  private readonly notWrappedBy: Database.Statement<[string, number], SecretRow<number>>;

  constructor(db: Database.Database) {
    this.insert = db.prepare(SQL.insert);
    this.get = db.prepare(SQL.get);
    this.list = db.prepare(SQL.list);
    this.replace = db.prepare(SQL.replace);
    this.del = db.prepare(SQL.delete);
    this.delAt = db.prepare(SQL.deleteAt);
    this.notWrappedBy = db.prepare(SQL.notWrappedBy);
  }

  async createSecret(secret: SecretRecord): Promise<boolean> {
    return this.insert.run(...secretValues(secret)).changes === 1;
  }

  async getSecret(tenant: string, secretId: string): Promise<SecretRecord | undefined> {
    const r = this.get.get(tenant, secretId);
    return r && toSecret(r);
  }

  async listSecrets(tenant: string): Promise<SecretRecord[]> {
    return this.list.all(tenant).map(toSecret);
  }

  async replaceSecret(tenant: string, secretId: string, expected: SecretExpectation, next: SecretRecord): Promise<boolean> {
    return this.replace.run(...replaceSecretValues(tenant, secretId, expected, next)).changes === 1;
  }

  async deleteSecret(tenant: string, secretId: string, version?: number): Promise<boolean> {
    return (version === undefined ? this.del.run(tenant, secretId) : this.delAt.run(tenant, secretId, version)).changes === 1;
  }

  async listSecretsNotWrappedBy(masterKeyId: string, limit: number): Promise<SecretRecord[]> {
    return this.notWrappedBy.all(masterKeyId, Math.max(0, Math.trunc(limit))).map(toSecret);
  }
}
