/**
 * The key-store contract: managed API keys, tenant binding, revocation and atomic rotation.
 */
import { describe, expect, it } from 'vitest';
import type { KeyStore } from '@weft/store-kit';
import { T0, apiKey, freshStorePerTest, type PortFactory } from './fixtures.js';

/**
 * Registers the KeyStore contract for one implementation; `factory` runs before every test.
 *
 * @see execution-semantics.md §5
 */
export function defineKeyStoreContract(name: string, factory: PortFactory<KeyStore>): void {
  describe(`KeyStore contract: ${name}`, () => {
    let store: KeyStore;
    freshStorePerTest(factory, (s) => {
      store = s;
    });

    describe('managed api keys', () => {
      it('creates a key and reads it by id (tenant-bound) and by hash', async () => {
        const k = apiKey('k1', { expiresAt: T0 + 5000 });
        await store.createApiKey(k);
        expect(await store.getApiKey('k1')).toEqual(k);
        expect(await store.getApiKey('k1', 't1')).toEqual(k);
        expect(await store.getApiKey('k1', 't2')).toBeUndefined();
        expect(await store.findApiKeyByHash('hash-k1')).toEqual(k);
        expect(await store.findApiKeyByHash('hash-nope')).toBeUndefined();
        expect(await store.getApiKey('nope')).toBeUndefined();
      });

      it('rejects a duplicate key id or hash and keeps the original', async () => {
        await store.createApiKey(apiKey('k1'));
        await expect(store.createApiKey(apiKey('k1', { hash: 'other' }))).rejects.toThrow();
        await expect(store.createApiKey(apiKey('k2', { hash: 'hash-k1' }))).rejects.toThrow();
        expect((await store.listApiKeys()).map((k) => k.keyId)).toEqual(['k1']);
      });

      it('lists keys oldest first, optionally for one tenant', async () => {
        await store.createApiKey(apiKey('kb', { createdAt: T0 + 1 }));
        await store.createApiKey(apiKey('kc', { createdAt: T0, tenant: 't2' }));
        await store.createApiKey(apiKey('ka', { createdAt: T0 + 1 }));
        expect((await store.listApiKeys()).map((k) => k.keyId)).toEqual(['kc', 'ka', 'kb']);
        expect((await store.listApiKeys('t1')).map((k) => k.keyId)).toEqual(['ka', 'kb']);
        expect(await store.listApiKeys('t3')).toEqual([]);
      });

      it('revokes once, bound to the tenant, keeping the first revocation time', async () => {
        await store.createApiKey(apiKey('k1'));
        expect(await store.revokeApiKey('k1', T0 + 10, 't2')).toBeUndefined();
        expect((await store.getApiKey('k1'))?.revokedAt).toBeNull();
        expect((await store.revokeApiKey('k1', T0 + 10, 't1'))?.revokedAt).toBe(T0 + 10);
        expect((await store.revokeApiKey('k1', T0 + 20))?.revokedAt).toBe(T0 + 10);
        expect(await store.revokeApiKey('nope', T0)).toBeUndefined();
      });

      it('rotates a live key: the successor inherits tenant, principal, name and scopes', async () => {
        const old = apiKey('k1', { principal: 'key_root', scopes: ['runs:read'] });
        await store.createApiKey(old);
        const r = await store.rotateApiKey('k1', { keyId: 'k2', hash: 'hash-k2', createdAt: T0 + 5, expiresAt: T0 + 9000 }, T0 + 1000, T0 + 5, 't1');
        expect(r.kind).toBe('rotated');
        if (r.kind !== 'rotated') return;
        expect(r.old).toEqual({ ...old, graceUntil: T0 + 1000 });
        expect(r.next).toEqual({
          ...apiKey('k2'),
          principal: 'key_root',
          scopes: ['runs:read'],
          name: old.name,
          createdAt: T0 + 5,
          expiresAt: T0 + 9000,
          rotatedFrom: 'k1',
        });
        expect(await store.getApiKey('k1')).toEqual(r.old);
        expect(await store.findApiKeyByHash('hash-k2')).toEqual(r.next);
      });

      it('refuses to rotate a revoked, expired or already rotated key, or a foreign or unknown one, writing nothing', async () => {
        await store.createApiKey(apiKey('rev', { revokedAt: T0 }));
        await store.createApiKey(apiKey('exp', { expiresAt: T0 + 10 }));
        await store.createApiKey(apiKey('done', { graceUntil: T0 + 100 }));
        await store.createApiKey(apiKey('live'));
        const succ = (id: string): { keyId: string; hash: string; createdAt: number; expiresAt: null } => ({
          keyId: id,
          hash: `hash-${id}`,
          createdAt: T0 + 10,
          expiresAt: null,
        });
        for (const id of ['rev', 'exp', 'done']) {
          const r = await store.rotateApiKey(id, succ(`${id}-next`), T0 + 500, T0 + 10);
          expect(r.kind).toBe('conflict');
          if (r.kind === 'conflict') expect(r.old.keyId).toBe(id);
        }
        expect(await store.rotateApiKey('live', succ('x1'), T0 + 500, T0 + 10, 't2')).toEqual({ kind: 'not_found' });
        expect(await store.rotateApiKey('nope', succ('x2'), T0 + 500, T0 + 10)).toEqual({ kind: 'not_found' });
        expect((await store.listApiKeys()).map((k) => k.keyId).sort()).toEqual(['done', 'exp', 'live', 'rev']);
        expect((await store.getApiKey('live'))?.graceUntil).toBeNull();
      });

      it('a rotation whose successor hash collides writes nothing', async () => {
        await store.createApiKey(apiKey('k1'));
        await store.createApiKey(apiKey('k2'));
        await expect(store.rotateApiKey('k1', { keyId: 'k3', hash: 'hash-k2', createdAt: T0, expiresAt: null }, T0 + 1, T0)).rejects.toThrow();
        expect((await store.getApiKey('k1'))?.graceUntil).toBeNull();
        expect(await store.getApiKey('k3')).toBeUndefined();
      });

      it('lets exactly one of several concurrent rotations of one key win', async () => {
        await store.createApiKey(apiKey('k1'));
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) => store.rotateApiKey('k1', { keyId: `n${i}`, hash: `hash-n${i}`, createdAt: T0, expiresAt: null }, T0 + 100, T0)),
        );
        expect(results.filter((r) => r.kind === 'rotated')).toHaveLength(1);
        expect(results.filter((r) => r.kind === 'conflict')).toHaveLength(5);
        expect(await store.listApiKeys()).toHaveLength(2);
      });

      it('records the last use', async () => {
        await store.createApiKey(apiKey('k1'));
        await store.touchApiKey('k1', T0 + 42);
        expect((await store.getApiKey('k1'))?.lastUsedAt).toBe(T0 + 42);
        await store.touchApiKey('nope', T0);
      });
    });
  });
}
