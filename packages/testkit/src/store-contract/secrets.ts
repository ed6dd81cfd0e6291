/**
 * The secret-store contract: tenant binding, create-once, compare-and-set replacement (rotation
 * and master-key rewrap), versioned deletes and the cross-tenant rewrap listing. Records hold
 * opaque ciphertext strings; the store never interprets them.
 */
import { describe, expect, it } from 'vitest';
import type { SecretRecord, SecretStore } from '@weft/store-kit';
import { T0, freshStorePerTest, type PortFactory } from './fixtures.js';

/** A secret record with placeholder ciphertext. */
export function secretRecord(secretId: string, over: Partial<SecretRecord> = {}): SecretRecord {
  return {
    tenant: 't1',
    secretId,
    version: 1,
    description: null,
    createdAt: T0,
    updatedAt: T0,
    masterKeyId: 'mk1',
    wrappedKey: `wrapped-${secretId}`,
    ciphertext: `sealed-${secretId}`,
    ...over,
  };
}

/**
 * Registers the SecretStore contract for one implementation; `factory` runs before every test.
 *
 * @see security-contract.md §4.1 (SEC-05)
 */
export function defineSecretStoreContract(name: string, factory: PortFactory<SecretStore>): void {
  describe(`SecretStore contract: ${name}`, () => {
    let store: SecretStore;
    freshStorePerTest(factory, (s) => {
      store = s;
    });

    it('creates a secret once per (tenant, secretId) and reads it back exactly', async () => {
      const s = secretRecord('openai', { description: 'the OpenAI key', wrappedKey: 'w'.repeat(120), ciphertext: 'c'.repeat(400) });
      expect(await store.createSecret(s)).toBe(true);
      expect(await store.getSecret('t1', 'openai')).toEqual(s);
      expect(await store.createSecret({ ...s, ciphertext: 'other' })).toBe(false);
      expect((await store.getSecret('t1', 'openai'))?.ciphertext).toBe(s.ciphertext);
      // The same id in another tenant is another secret.
      expect(await store.createSecret({ ...s, tenant: 't2', ciphertext: 'theirs' })).toBe(true);
      expect((await store.getSecret('t2', 'openai'))?.ciphertext).toBe('theirs');
      expect((await store.getSecret('t1', 'openai'))?.ciphertext).toBe(s.ciphertext);
    });

    it('invariant: vault-tenant-bound — reads, lists, replacements and deletes never cross tenants', async () => {
      await store.createSecret(secretRecord('b', { tenant: 't1' }));
      await store.createSecret(secretRecord('a', { tenant: 't1' }));
      await store.createSecret(secretRecord('only-t2', { tenant: 't2' }));
      expect(await store.getSecret('t1', 'only-t2')).toBeUndefined();
      expect(await store.getSecret('t3', 'a')).toBeUndefined();
      expect((await store.listSecrets('t1')).map((s) => s.secretId)).toEqual(['a', 'b']);
      expect((await store.listSecrets('t2')).map((s) => s.secretId)).toEqual(['only-t2']);
      expect(await store.listSecrets('t3')).toEqual([]);
      const foreign = secretRecord('only-t2', { tenant: 't1', version: 2, ciphertext: 'hijack' });
      expect(await store.replaceSecret('t1', 'only-t2', { version: 1, masterKeyId: 'mk1' }, foreign)).toBe(false);
      expect(await store.deleteSecret('t1', 'only-t2')).toBe(false);
      expect(await store.getSecret('t2', 'only-t2')).toEqual(secretRecord('only-t2', { tenant: 't2' }));
    });

    it('replaces only while the row still holds the expected version and master key', async () => {
      await store.createSecret(secretRecord('k'));
      const v2 = secretRecord('k', { version: 2, updatedAt: T0 + 5, ciphertext: 'v2', wrappedKey: 'w2', description: 'rotated' });
      expect(await store.replaceSecret('t1', 'k', { version: 1, masterKeyId: 'mk1' }, v2)).toBe(true);
      expect(await store.getSecret('t1', 'k')).toEqual(v2);
      // A stale rotation (expected version 1) loses and writes nothing.
      expect(await store.replaceSecret('t1', 'k', { version: 1, masterKeyId: 'mk1' }, { ...v2, version: 2, ciphertext: 'stale' })).toBe(false);
      // A rewrap keeps the version and moves the master key; a second one with the old expectation loses.
      const rewrapped = { ...v2, masterKeyId: 'mk2', wrappedKey: 'w2-under-mk2' };
      expect(await store.replaceSecret('t1', 'k', { version: 2, masterKeyId: 'mk1' }, rewrapped)).toBe(true);
      expect(await store.replaceSecret('t1', 'k', { version: 2, masterKeyId: 'mk1' }, { ...rewrapped, wrappedKey: 'again' })).toBe(false);
      expect(await store.getSecret('t1', 'k')).toEqual(rewrapped);
      // Tenant and id in `next` are ignored: the row stays where it is.
      expect(await store.replaceSecret('t1', 'k', { version: 2, masterKeyId: 'mk2' }, { ...rewrapped, tenant: 't9', secretId: 'moved', version: 3 })).toBe(
        true,
      );
      expect(await store.getSecret('t9', 'moved')).toBeUndefined();
      expect((await store.getSecret('t1', 'k'))?.version).toBe(3);
      expect(await store.replaceSecret('t1', 'nope', { version: 1, masterKeyId: 'mk1' }, secretRecord('nope'))).toBe(false);
    });

    it('lets exactly one of several concurrent rotations of one version win', async () => {
      await store.createSecret(secretRecord('k'));
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          store.replaceSecret('t1', 'k', { version: 1, masterKeyId: 'mk1' }, secretRecord('k', { version: 2, ciphertext: `c${i}` })),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect((await store.getSecret('t1', 'k'))?.ciphertext).toBe(`c${winner}`);
    });

    it('deletes, at a given version only when one is named', async () => {
      await store.createSecret(secretRecord('a'));
      await store.createSecret(secretRecord('b', { version: 4 }));
      expect(await store.deleteSecret('t1', 'b', 3)).toBe(false);
      expect(await store.getSecret('t1', 'b')).toBeDefined();
      expect(await store.deleteSecret('t1', 'b', 4)).toBe(true);
      expect(await store.deleteSecret('t1', 'a')).toBe(true);
      expect(await store.deleteSecret('t1', 'a')).toBe(false);
      expect(await store.listSecrets('t1')).toEqual([]);
      // A deleted id can be created again, from version 1.
      expect(await store.createSecret(secretRecord('a', { ciphertext: 'fresh' }))).toBe(true);
      expect((await store.getSecret('t1', 'a'))?.ciphertext).toBe('fresh');
    });

    it('lists the secrets of every tenant not wrapped by a master key, in (tenant, secretId) order, up to a limit', async () => {
      await store.createSecret(secretRecord('z', { tenant: 't1', masterKeyId: 'old' }));
      await store.createSecret(secretRecord('a', { tenant: 't2', masterKeyId: 'older' }));
      await store.createSecret(secretRecord('a', { tenant: 't1', masterKeyId: 'new' }));
      await store.createSecret(secretRecord('b', { tenant: 't1', masterKeyId: 'old' }));
      const ids = (xs: SecretRecord[]): string[] => xs.map((s) => `${s.tenant}/${s.secretId}`);
      expect(ids(await store.listSecretsNotWrappedBy('new', 10))).toEqual(['t1/b', 't1/z', 't2/a']);
      expect(ids(await store.listSecretsNotWrappedBy('new', 2))).toEqual(['t1/b', 't1/z']);
      expect(ids(await store.listSecretsNotWrappedBy('old', 10))).toEqual(['t1/a', 't2/a']);
      expect(await store.listSecretsNotWrappedBy('new', 0)).toEqual([]);
    });
  });
}
