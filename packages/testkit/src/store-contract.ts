/**
 * The store contract suites, one per port: runs (events, projection, leases, timers),
 * workflows, idempotency, managed keys and the audit log. Every implementation of a port must
 * pass its suite unchanged: the in-memory stores are the reference, and the SQL stores must be
 * indistinguishable from them through the port. {@link defineStoreContract} registers all
 * five for a store that implements every port (`HostStore`).
 *
 * @see execution-semantics.md §5
 */
import type { HostStore } from '@weft/store-kit';
import { defineAuditStoreContract } from './store-contract/audit.js';
import { defineIdempotencyStoreContract } from './store-contract/idempotency.js';
import { defineKeyStoreContract } from './store-contract/keys.js';
import { defineRunStoreContract } from './store-contract/runs.js';
import { defineWorkflowStoreContract } from './store-contract/workflows.js';
import type { PortFactory, PortFixture } from './store-contract/fixtures.js';

export { defineAuditStoreContract, defineIdempotencyStoreContract, defineKeyStoreContract, defineRunStoreContract, defineWorkflowStoreContract };
export type { PortFactory, PortFixture };

/** What a whole-store factory hands the suites: a store over an empty database, not yet migrated. */
export interface StoreFixture {
  store: HostStore;
  /** Closes the store and removes its database. */
  cleanup: () => Promise<void>;
}

/** Wraps a whole-store factory so every test gets a migrated store. */
export function migrated(factory: () => Promise<StoreFixture>): PortFactory<HostStore> {
  return async () => {
    const fixture = await factory();
    await fixture.store.migrate();
    return fixture;
  };
}

/**
 * Registers every port's contract suite for one store implementing all of them. `factory`
 * runs before every test and must return a store over a fresh, empty database; the suites
 * migrate it.
 */
export function defineStoreContract(name: string, factory: () => Promise<StoreFixture>): void {
  const ready = migrated(factory);
  defineRunStoreContract(name, ready);
  defineWorkflowStoreContract(name, ready);
  defineIdempotencyStoreContract(name, ready);
  defineKeyStoreContract(name, ready);
  defineAuditStoreContract(name, ready);
}
