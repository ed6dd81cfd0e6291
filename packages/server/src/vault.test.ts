import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LocalKeyManager } from '@weft/security';
import { MemorySecretStore } from '@weft/store-kit';
import { SecretVault } from './vault.js';

const km = (...ids: string[]): LocalKeyManager => new LocalKeyManager(ids.map((id) => ({ id, key: randomBytes(32) })));
const actor = { principal: 'key_test' };
const VALUE = ['sk-', 'unit', 'VaultValue0123456789abcdef'].join('');

describe('SecretVault', () => {
  it('rotation retries past a concurrent rewrap and keeps versions contiguous', async () => {
    const store = new MemorySecretStore();
    const old = { id: 'k1', key: randomBytes(32) };
    const v1 = new SecretVault(store, new LocalKeyManager([old]));
    await v1.create('t1', { secretId: 's', value: VALUE }, actor);
    const both = new SecretVault(store, new LocalKeyManager([{ id: 'k2', key: randomBytes(32) }, old]));
    // A rewrap lands between the rotation's read and its write: the first compare-and-set loses.
    const replace = store.replaceSecret.bind(store);
    let raced = false;
    store.replaceSecret = async (tenant, id, expected, next) => {
      if (!raced) {
        raced = true;
        await both.rewrap(actor);
      }
      return replace(tenant, id, expected, next);
    };
    const rotated = await both.rotate('t1', 's', { value: `${VALUE}-2` }, actor);
    expect(rotated.version).toBe(2);
    expect(rotated.masterKeyId).toBe('k2');
    expect(await both.resolver().resolve('t1', 's')).toEqual({ ok: true, value: `${VALUE}-2`, version: 2 });
  });

  it('the resolver calls the redaction hook before returning, and never for a failed resolution', async () => {
    const seen: string[] = [];
    const vault = new SecretVault(new MemorySecretStore(), km('k1'), { onResolved: ({ tenant, ref, value }) => seen.push(`${tenant}/${ref}/${value}`) });
    await vault.create('t1', { secretId: 's', value: VALUE }, actor);
    await vault.resolver().resolve('t2', 's');
    await vault.resolver().resolve('t1', 'nope');
    expect(seen).toEqual([]);
    await vault.resolver().resolve('t1', 's');
    expect(seen).toEqual([`t1/s/${VALUE}`]);
  });

  it('a row tampered in the store resolves as credential_unavailable, never as a value', async () => {
    const store = new MemorySecretStore();
    const vault = new SecretVault(store, km('k1'));
    const rec = await vault.create('t1', { secretId: 's', value: VALUE }, actor);
    const bytes = Buffer.from(rec.ciphertext, 'base64url');
    bytes[20] = (bytes[20] as number) ^ 0xff;
    await store.replaceSecret('t1', 's', rec, { ...rec, ciphertext: bytes.toString('base64url') });
    expect(await vault.resolver().resolve('t1', 's')).toMatchObject({ ok: false, code: 'credential_unavailable' });
    // Another tenant's row copied over this one does not decrypt either.
    const other = await vault.create('t2', { secretId: 's', value: `${VALUE}-b` }, actor);
    const cur = (await store.getSecret('t1', 's')) as typeof rec;
    await store.replaceSecret('t1', 's', cur, { ...other, tenant: 't1' });
    expect(await vault.resolver().resolve('t1', 's')).toMatchObject({ ok: false, code: 'credential_unavailable' });
  });
});
