/**
 * ManagedKeyService with a fake clock: secret format, hash-only storage, rotation grace,
 * expiry and revocation precedence, scope rules, and the audit trail of the lifecycle.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WeftError } from '@weft/contract';
import { MemoryHostStore } from '@weft/store-kit';
import { AuditLog } from './audit-log.js';
import { GRANTABLE_SCOPES, ManagedKeyService, parseScopes } from './managed-keys.js';

const T0 = Date.UTC(2025, 0, 1);
const actor = { tenant: 'acme', principal: 'key_admin' };

async function setup(minGraceSeconds = 3600): Promise<{ svc: ManagedKeyService; store: MemoryHostStore; audit: AuditLog; clock: { t: number } }> {
  const store = new MemoryHostStore();
  const clock = { t: T0 };
  const audit = await AuditLog.open(store, { signingKey: generateKeyPairSync('ed25519'), timers: false, now: () => clock.t });
  const svc = new ManagedKeyService(store, { minGraceSeconds, audit, now: () => clock.t });
  return { svc, store, audit, clock };
}

describe('ManagedKeyService', () => {
  it('invariant: api-keys-hashed — issues weft_<id>_<256-bit> secrets and stores only their SHA-256', async () => {
    const { svc, store } = await setup();
    const { key, secret } = await svc.create({ tenant: 'acme', name: 'ci', scopes: ['runs:read'] }, actor);
    expect(secret).toMatch(/^weft_[0-9a-f]{18}_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(secret.split('_').slice(2).join('_'), 'base64url')).toHaveLength(32);
    const stored = await store.getApiKey(key.keyId);
    expect(stored?.hash).toBe(createHash('sha256').update(secret).digest('hex'));
    expect(JSON.stringify(await store.listApiKeys())).not.toContain(secret.slice(25));
    expect(JSON.stringify(svc.view(key))).not.toContain(stored?.hash as string);
    expect(await svc.verify(secret)).toEqual({ tenant: 'acme', principal: `key_${key.keyId}`, scopes: new Set(['runs:read']), kind: 'api-key' });
  });

  it('ignores tokens that are not managed keys, or whose id does not match the hash', async () => {
    const { svc } = await setup();
    const { key, secret } = await svc.create({ tenant: 'acme', scopes: ['runs:read'] }, actor);
    expect(await svc.verify('not-a-managed-key-0123456789')).toBeUndefined();
    expect(await svc.verify(`${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
    const otherId = key.keyId.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    expect(await svc.verify(secret.replace(key.keyId, otherId))).toBeUndefined();
  });

  it('rotation keeps both keys valid as one principal until the grace ends, then the old one is expired', async () => {
    const { svc, clock } = await setup(3600);
    const a = await svc.create({ tenant: 'acme', scopes: ['runs:read', 'runs:create'] }, actor);
    const b = await svc.rotate(a.key.keyId, {}, actor);
    expect(b.key.rotatedFrom).toBe(a.key.keyId);
    expect(b.old.graceUntil).toBe(T0 + 3_600_000);
    const pa = await svc.verify(a.secret);
    const pb = await svc.verify(b.secret);
    expect(pa).toEqual(pb);
    expect((pa as { principal: string }).principal).toBe(`key_${a.key.keyId}`);
    clock.t = T0 + 3_600_000 - 1;
    expect(await svc.verify(a.secret)).not.toBe('expired');
    clock.t = T0 + 3_600_000;
    expect(await svc.verify(a.secret)).toBe('expired');
    expect(await svc.verify(b.secret)).toMatchObject({ tenant: 'acme' });
    await expect(svc.rotate(a.key.keyId, {}, actor)).rejects.toMatchObject({ code: 'key_state_conflict' });
  });

  it('refuses a grace window below the configured minimum', async () => {
    const { svc } = await setup(3600);
    const a = await svc.create({ tenant: 'acme', scopes: ['runs:read'] }, actor);
    await expect(svc.rotate(a.key.keyId, { graceSeconds: 60 }, actor)).rejects.toMatchObject({ code: 'validation_error' });
    expect((await svc.rotate(a.key.keyId, { graceSeconds: 7200 }, actor)).old.graceUntil).toBe(T0 + 7_200_000);
  });

  it('expires keys at expiresAt and revocation wins over expiry; a successor inherits the lifetime', async () => {
    const { svc, clock } = await setup(0);
    const a = await svc.create({ tenant: 'acme', scopes: ['runs:read'], expiresInSeconds: 100 }, actor);
    clock.t = T0 + 50_000;
    const b = await svc.rotate(a.key.keyId, {}, actor);
    expect(b.key.expiresAt).toBe(T0 + 150_000);
    expect(await svc.verify(a.secret)).toBe('expired');
    clock.t = T0 + 150_000;
    expect(await svc.verify(b.secret)).toBe('expired');
    await svc.revoke(b.key.keyId, actor);
    expect(await svc.verify(b.secret)).toBe('revoked');
    expect(svc.view((await svc.get(b.key.keyId)) as never).status).toBe('revoked');
  });

  it('revokes immediately and idempotently, bound to the tenant', async () => {
    const { svc } = await setup();
    const a = await svc.create({ tenant: 'acme', scopes: ['runs:read'] }, actor);
    await expect(svc.revoke(a.key.keyId, actor, 'other')).rejects.toMatchObject({ code: 'not_found' });
    expect(await svc.verify(a.secret)).toMatchObject({ tenant: 'acme' });
    const r1 = await svc.revoke(a.key.keyId, actor, 'acme');
    const r2 = await svc.revoke(a.key.keyId, actor);
    expect(r2.revokedAt).toBe(r1.revokedAt);
    expect(await svc.verify(a.secret)).toBe('revoked');
  });

  it('expands all to every grantable scope and never grants keys:admin', () => {
    expect(parseScopes(['all'])).toEqual(GRANTABLE_SCOPES);
    expect(GRANTABLE_SCOPES).toContain('keys:manage');
    expect(GRANTABLE_SCOPES).toContain('interrupts:delegate');
    expect(GRANTABLE_SCOPES).not.toContain('keys:admin');
    expect(() => parseScopes(['keys:admin'])).toThrow(WeftError);
    expect(() => parseScopes(['runs:read', 'bogus'])).toThrow(/^Unknown scope at \/scopes\/1\.$/);
    expect(() => parseScopes([])).toThrow(WeftError);
  });

  it('records key.created, key.rotated and key.revoked with ids only', async () => {
    const { svc, store } = await setup();
    const a = await svc.create({ tenant: 'acme', name: 'secret-looking name', scopes: ['runs:read'] }, actor);
    const b = await svc.rotate(a.key.keyId, {}, actor);
    await svc.revoke(b.key.keyId, actor);
    await svc.revoke(b.key.keyId, actor);
    const entries = await store.readAuditEntries(0, 100, 100);
    expect(entries.map((e) => [e.action, e.target])).toEqual([
      ['key.created', a.key.keyId],
      ['key.rotated', a.key.keyId],
      ['key.revoked', b.key.keyId],
    ]);
    expect(entries[1]?.details).toEqual({ newKeyId: b.key.keyId, graceSeconds: 3600 });
    const text = JSON.stringify(entries);
    for (const s of [a.secret, b.secret, a.key.hash, b.key.hash, 'secret-looking name']) expect(text).not.toContain(s);
  });
});
