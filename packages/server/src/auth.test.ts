import { describe, expect, it } from 'vitest';
import { ApiKeyAuthenticator, Authenticator, OPERATOR_SCOPES, requireScope, type ManagedKeyVerifier } from './auth.js';

const KEY = 'unit-test-key-0123456789abcdef';

describe('ApiKeyAuthenticator', () => {
  it('invariant: api-keys-hashed — keeps only hashes of configured keys, never the plaintext', () => {
    const auth = new ApiKeyAuthenticator([{ tenant: 't1', key: KEY }]);
    const dump = JSON.stringify(auth, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v instanceof Set ? [...v] : v));
    expect(dump).not.toContain(KEY);
    expect(dump).not.toContain(Buffer.from(KEY).toString('hex'));
    expect(auth.authenticate(`Bearer ${KEY}`)).toMatchObject({ tenant: 't1' });
  });

  it('derives tenant and an opaque principal from the credential only', () => {
    const auth = new ApiKeyAuthenticator([
      { tenant: 't1', key: KEY },
      { tenant: 't2', key: `${KEY}-other` },
    ]);
    const p1 = auth.authenticate(`Bearer ${KEY}`);
    const p2 = auth.authenticate(`bearer   ${KEY}-other`);
    expect(p1.tenant).toBe('t1');
    expect(p2.tenant).toBe('t2');
    expect(p1.principal).toMatch(/^key_[0-9a-f]{16}$/);
    expect(p1.principal).not.toBe(p2.principal);
    expect(p1.principal).not.toContain(KEY);
  });

  it.each([undefined, '', 'Bearer', `Basic ${KEY}`, `Bearer ${KEY} extra`, `Bearer ${'x'.repeat(5000)}`, 'Bearer wrong-key-000000000000'])(
    'rejects %j as unauthenticated without echoing it',
    (header) => {
      const auth = new ApiKeyAuthenticator([{ tenant: 't1', key: KEY }]);
      try {
        auth.authenticate(header);
        expect.unreachable();
      } catch (e) {
        expect(e).toMatchObject({ code: 'unauthenticated' });
        const secret = header?.slice(7) ?? '';
        if (secret.length > 0) expect((e as Error).message).not.toContain(secret);
      }
    },
  );

  it('invariant: key-admin-tenant-bound — a configured tenant key never holds keys:admin, even when listed in its scopes', () => {
    const auth = new ApiKeyAuthenticator([
      { tenant: 't1', key: KEY },
      { tenant: 't2', key: `${KEY}-other`, scopes: ['keys:manage', 'keys:admin'] },
    ]);
    for (const k of [KEY, `${KEY}-other`]) {
      const p = auth.authenticate(`Bearer ${k}`);
      expect(p.scopes.has('keys:admin')).toBe(false);
      expect(p.operator).toBeUndefined();
    }
    expect(auth.authenticate(`Bearer ${KEY}`).scopes.has('keys:manage')).toBe(true);
  });

  it('invariant: operator-required-host-wide — only the operator key yields the operator principal, hashed and compared like the others', () => {
    const op = 'operator-key-0123456789abcdef-0123456789';
    const auth = new ApiKeyAuthenticator([{ tenant: 't1', key: KEY }], op);
    const dump = JSON.stringify(auth, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v instanceof Set ? [...v] : v));
    expect(dump).not.toContain(op);
    const p = auth.authenticate(`Bearer ${op}`);
    expect(p).toMatchObject({ tenant: '', operator: true, kind: 'api-key' });
    expect(p.principal).toMatch(/^operator:[0-9a-f]{16}$/);
    expect([...p.scopes].sort()).toEqual([...OPERATOR_SCOPES].sort());
    expect(() => auth.authenticate(`Bearer ${op.slice(0, -1)}X`)).toThrowError(expect.objectContaining({ code: 'unauthenticated' }));
    expect(auth.authenticate(`Bearer ${KEY}`).operator).toBeUndefined();
  });

  it('refuses a short operator key or one equal to a tenant key, without echoing it', () => {
    expect(() => new ApiKeyAuthenticator([], 'short-operator-key')).toThrow(/at least 32/);
    const same = 'same-key-for-both-0123456789abcdef-0123';
    try {
      new ApiKeyAuthenticator([{ tenant: 't1', key: same }], same);
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toMatch(/must differ/);
      expect((e as Error).message).not.toContain(same);
    }
  });

  it('enforces scopes with details.scopeRequired', () => {
    const auth = new ApiKeyAuthenticator([{ tenant: 't1', key: KEY, scopes: ['runs:read'] }]);
    const p = auth.authenticate(`Bearer ${KEY}`);
    expect(() => requireScope(p, 'runs:read')).not.toThrow();
    expect(() => requireScope(p, 'runs:create')).toThrowError(expect.objectContaining({ code: 'forbidden', details: { scopeRequired: 'runs:create' } }));
  });
});

describe('Authenticator chain', () => {
  const apiKeys = new ApiKeyAuthenticator([{ tenant: 't1', key: KEY }]);
  const managed = (answer: Awaited<ReturnType<ManagedKeyVerifier['verify']>>): ManagedKeyVerifier => ({ verify: async () => answer });

  it('invariant: operator-required-host-wide — a managed key is never the operator, whatever its record claims', async () => {
    const managed: ManagedKeyVerifier = { verify: async () => ({ tenant: 't1', principal: 'key_x', scopes: new Set(['keys:manage']), operator: true }) };
    const chain = new Authenticator({ apiKeys: new ApiKeyAuthenticator([]), managedKeys: () => managed });
    const p = await chain.authenticate(`Bearer weft_${'0'.repeat(18)}_${'A'.repeat(43)}`);
    expect(p.operator).toBeUndefined();
    expect(p.tenant).toBe('t1');
  });

  it('accepts configured keys with kind api-key before asking managed keys', async () => {
    let asked = 0;
    const chain = new Authenticator({ apiKeys, managedKeys: () => ({ verify: async () => (asked++, undefined) }) });
    expect(await chain.authenticate(`Bearer ${KEY}`)).toMatchObject({ tenant: 't1', kind: 'api-key' });
    expect(asked).toBe(0);
  });

  it('maps managed-key answers: revoked → key_revoked, expired → key_expired, unknown → unauthenticated', async () => {
    const token = 'managed-key-0123456789abcdef';
    await expect(new Authenticator({ apiKeys, managedKeys: () => managed('revoked') }).authenticate(`Bearer ${token}`)).rejects.toMatchObject({
      code: 'key_revoked',
      status: 401,
    });
    await expect(new Authenticator({ apiKeys, managedKeys: () => managed('expired') }).authenticate(`Bearer ${token}`)).rejects.toMatchObject({
      code: 'key_expired',
      status: 401,
    });
    await expect(new Authenticator({ apiKeys, managedKeys: () => managed(undefined) }).authenticate(`Bearer ${token}`)).rejects.toMatchObject({
      code: 'unauthenticated',
    });
    await expect(new Authenticator({ apiKeys, managedKeys: () => undefined }).authenticate(`Bearer ${token}`)).rejects.toMatchObject({
      code: 'unauthenticated',
    });
    const p = await new Authenticator({
      apiKeys,
      managedKeys: () => managed({ tenant: 't9', principal: 'key_abc', scopes: new Set(['runs:read']) }),
    }).authenticate(`Bearer ${token}`);
    expect(p).toMatchObject({ tenant: 't9', principal: 'key_abc', kind: 'api-key' });
  });

  it('without JWT issuers, a JWT-shaped bearer is just an unknown key', async () => {
    const jwtShaped = `${Buffer.from('{"alg":"RS256","kid":"k"}').toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}.c2ln`;
    const e = await new Authenticator({ apiKeys }).authenticate(`Bearer ${jwtShaped}`).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'unauthenticated', message: 'The credential is not valid.' });
    expect((e as Error).message).not.toContain(jwtShaped);
  });

  it('refuses headers before any lookup: missing, wrong scheme, several tokens', async () => {
    const chain = new Authenticator({ apiKeys, managedKeys: () => managed('revoked') });
    for (const h of [undefined, `Basic ${KEY}`, `Bearer ${KEY} x`]) await expect(chain.authenticate(h)).rejects.toMatchObject({ code: 'unauthenticated' });
  });
});
