/**
 * The store contract suites, one per port: runs (events, projection, leases, timers),
 * workflows, idempotency, managed keys, the audit log and the secrets vault. Every implementation of a port must
 * pass its suite unchanged: the in-memory stores are the reference, and the SQL stores must be
 * indistinguishable from them through the port. {@link defineStoreContract} registers all
 * six for a store that implements every port (`HostStore`).
 *
 * @see execution-semantics.md §5
 */
import { describe, expect, it } from 'vitest';
import type { HostStore } from '@weft/store-kit';
import { defineAuditStoreContract } from './store-contract/audit.js';
import { defineIdempotencyStoreContract } from './store-contract/idempotency.js';
import { defineInvocationStoreContract } from './store-contract/invocations.js';
import { defineKeyStoreContract } from './store-contract/keys.js';
import { defineRetentionStoreContract } from './store-contract/retention.js';
import { defineRunStoreContract } from './store-contract/runs.js';
import { defineSecretStoreContract, secretRecord } from './store-contract/secrets.js';
import { defineWebhookOutboxContract, defineWebhookStoreContract, webhookRecord } from './store-contract/webhooks.js';
import { defineWorkflowStoreContract } from './store-contract/workflows.js';
import { T0, freshStorePerTest, type PortFactory, type PortFixture } from './store-contract/fixtures.js';

export {
  defineAuditStoreContract,
  defineIdempotencyStoreContract,
  defineInvocationStoreContract,
  defineKeyStoreContract,
  defineRetentionStoreContract,
  defineRunStoreContract,
  defineSecretStoreContract,
  defineWebhookOutboxContract,
  defineWebhookStoreContract,
  defineWorkflowStoreContract,
  secretRecord,
  webhookRecord,
};
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
  defineInvocationStoreContract(name, ready);
  defineRetentionStoreContract(name, ready);
  defineKeyStoreContract(name, ready);
  defineAuditStoreContract(name, ready);
  defineSecretStoreContract(name, ready);
  defineWebhookStoreContract(name, ready);
  defineWebhookOutboxContract(name, ready);
  defineProcessHeartbeatContract(name, ready);
}

/**
 * Across the run and idempotency ports of a shared store: the heartbeat `renewLeases` records
 * for a process decides whether that process's pending idempotency claims are still in flight.
 */
function defineProcessHeartbeatContract(name: string, factory: PortFactory<HostStore>): void {
  describe(`process heartbeats: ${name}`, () => {
    let store: HostStore;
    freshStorePerTest(factory, (s) => {
      store = s;
    });

    it('a pending idempotency claim is free once its process stops heartbeating, not after the pending TTL', async () => {
      const ttl = 5000;
      await store.renewLeases('proc-a', ttl, T0);
      const claim = {
        tenant: 'acme',
        route: 'POST /v1/runs',
        key: 'k1',
        requestHash: 'h1',
        owner: 'o1',
        now: T0,
        pendingTtlMs: 60_000,
        retentionMs: 86_400_000,
      };
      expect(await store.claimIdempotency(claim)).toEqual({ kind: 'claimed' });
      // proc-a is live: the key is in flight.
      expect(await store.claimIdempotency({ ...claim, owner: 'o2', now: T0 + ttl - 1, process: 'proc-b' })).toEqual({ kind: 'in-flight' });
      // proc-a's heartbeat expired (killed): the key is usable at once, long before 60 s.
      await store.renewLeases('proc-b', ttl, T0 + ttl);
      expect(await store.claimIdempotency({ ...claim, owner: 'o3', now: T0 + ttl + 1, process: 'proc-b' })).toEqual({ kind: 'claimed' });
      // The key now belongs to live proc-b.
      expect(await store.claimIdempotency({ ...claim, owner: 'o4', now: T0 + ttl + 2, process: 'proc-c' })).toEqual({ kind: 'in-flight' });
    });
  });
}
