import { describe, expect, it } from 'vitest';
import { ApiKeyAuthenticator, requireScope } from './auth.js';

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

  it('enforces scopes with details.scopeRequired', () => {
    const auth = new ApiKeyAuthenticator([{ tenant: 't1', key: KEY, scopes: ['runs:read'] }]);
    const p = auth.authenticate(`Bearer ${KEY}`);
    expect(() => requireScope(p, 'runs:read')).not.toThrow();
    expect(() => requireScope(p, 'runs:create')).toThrowError(expect.objectContaining({ code: 'forbidden', details: { scopeRequired: 'runs:create' } }));
  });
});
