/**
 * Runs each port's contract suite against every implementation: the in-memory references
 * (the engine's `MemoryStore` for runs, workflows and idempotency; `MemoryKeyStore`,
 * `MemoryAuditStore` and `MemorySecretStore` for keys, audit and secrets), SQLite on a temporary file, and Postgres (a real
 * server when WEFT_TEST_PG_URL is set, otherwise an in-process PGlite — never skipped).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '@weft/engine';
import { MemoryAuditStore, MemoryHostStore, MemoryKeyStore, MemorySecretStore, MemoryWebhookStore } from '@weft/store-kit';
import { SqliteStore } from '@weft/store-sqlite';
import { PostgresStore } from '@weft/store-postgres';
import {
  defineAuditStoreContract,
  defineIdempotencyStoreContract,
  defineInvocationStoreContract,
  defineKeyStoreContract,
  defineRetentionStoreContract,
  defineRunStoreContract,
  defineSecretStoreContract,
  defineWebhookOutboxContract,
  defineWebhookStoreContract,
  defineStoreContract,
  defineWorkflowStoreContract,
} from './store-contract.js';
import { createTestDatabase } from './pg.js';

const nothing = async (): Promise<void> => {};
const memory = async () => ({ store: new MemoryStore(), cleanup: nothing });
defineRunStoreContract('memory', memory);
defineWorkflowStoreContract('memory', memory);
defineIdempotencyStoreContract('memory', memory);
defineInvocationStoreContract('memory', memory);
defineRetentionStoreContract('memory', memory);
defineKeyStoreContract('memory', async () => ({ store: new MemoryKeyStore(), cleanup: nothing }));
defineAuditStoreContract('memory', async () => ({ store: new MemoryAuditStore(), cleanup: nothing }));
defineSecretStoreContract('memory', async () => ({ store: new MemorySecretStore(), cleanup: nothing }));
defineWebhookStoreContract('memory', async () => ({ store: new MemoryWebhookStore(), cleanup: nothing }));
defineWebhookOutboxContract('memory', async () => ({ store: new MemoryHostStore(), cleanup: nothing }));

defineStoreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-sqlite-'));
  const store = new SqliteStore({ path: join(dir, 'weft.db') });
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

defineStoreContract(`postgres (${process.env.WEFT_TEST_PG_URL ? 'server' : 'pglite'})`, async () => {
  const db = await createTestDatabase();
  const store = new PostgresStore({ connectionString: db.url });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await db.drop();
    },
  };
});
