/**
 * Key administration is tenant-bound: every tenant credential — a configured `WEFT_API_KEYS`
 * key included — lists, creates, rotates and revokes keys of its own tenant only, and a foreign
 * key answers exactly like a missing one. Host-wide administration needs the explicitly
 * configured operator credential (`WEFT_OPERATOR_KEY`), on a host started here.
 *
 * @see docs/security/README.md "Operator credential", security-contract.md §1.3 AUTH-20
 */
import { TEST_KEYS, startTestHost, type TestHost } from '@weft/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, target, type Res } from '../harness.js';
import { OWN_HOSTS, callAt } from '../own-host.js';

interface KeyView {
  keyId: string;
  tenant: string;
  status: string;
  secret?: string;
}

const MISSING = 'f'.repeat(18);

async function createKey(key: string, body: Record<string, unknown>): Promise<KeyView> {
  const r = await call<KeyView>('POST', '/v1/host/weft/keys', { key, body });
  if (r.status !== 201) throw new Error(`create key → ${r.status} ${r.text}`);
  return r.body;
}

describe.skipIf(!target.inProcess || !target.keyB)('security: key administration is bound to the credential tenant', () => {
  it('invariant: key-admin-tenant-bound — a configured key of tenant B cannot list, rotate or revoke tenant A keys', async () => {
    const a = await createKey(target.keyA, { name: 'victim', scopes: ['runs:read'] });
    const keyB = target.keyB as string;

    const listed = await call<{ keys: KeyView[] }>('GET', '/v1/host/weft/keys', { key: keyB });
    expect(listed.status).toBe(200);
    expect(listed.body.keys.map((k) => k.keyId)).not.toContain(a.keyId);
    expect(listed.body.keys.every((k) => k.tenant === 'tenant-b')).toBe(true);

    // Naming tenant A: refused the same way whether or not the tenant exists.
    const named = await call('GET', '/v1/host/weft/keys?tenant=tenant-a', { key: keyB });
    const nobody = await call('GET', '/v1/host/weft/keys?tenant=no-such-tenant', { key: keyB });
    expect(named.status).toBe(403);
    expect(named.body).toMatchObject({ error: 'forbidden' });
    expect(named.text).toBe(nobody.text);
    expect(named.text).not.toContain(a.keyId);

    for (const verb of ['rotate', 'revoke']) {
      const foreign = await call('POST', `/v1/host/weft/keys/${a.keyId}:${verb}`, { key: keyB, body: {} });
      const missing = await call('POST', `/v1/host/weft/keys/${MISSING}:${verb}`, { key: keyB, body: {} });
      expect(foreign.status).toBe(404);
      expect(foreign.body).toMatchObject({ error: 'not_found' });
      expect(foreign.text).toBe(missing.text);
    }
    const planted = await call('POST', '/v1/host/weft/keys', { key: keyB, body: { tenant: 'tenant-a', scopes: ['runs:read'] } });
    expect(planted.status).toBe(403);

    // Tenant A's key is untouched and still works.
    const mine = await call<{ keys: KeyView[] }>('GET', '/v1/host/weft/keys', { key: target.keyA });
    expect(mine.body.keys.find((k) => k.keyId === a.keyId)?.status).toBe('active');
    expect((await call('GET', '/v1/runs', { key: a.secret as string })).status).toBe(200);
  });

  it('invariant: operator-required-host-wide — without an operator credential no tenant key reaches another tenant, and keys:admin is never granted', async () => {
    const attempts: [string, string, unknown][] = [
      ['GET', '/v1/host/weft/keys?tenant=tenant-b', undefined],
      ['POST', '/v1/host/weft/keys', { tenant: 'tenant-b', scopes: ['runs:read'] }],
    ];
    for (const [method, path, body] of attempts) {
      const r = await call(method, path, { key: target.keyA, ...(body === undefined ? {} : { body }) });
      expect(r.status).toBe(403);
      expect(r.body).toMatchObject({ error: 'forbidden', details: { scopeRequired: 'keys:admin' } });
    }
    const all = await call<{ keys: KeyView[] }>('GET', '/v1/host/weft/keys', { key: target.keyA });
    expect(all.body.keys.every((k) => k.tenant === 'tenant-a')).toBe(true);
    const granted = await call('POST', '/v1/host/weft/keys', { key: target.keyA, body: { scopes: ['keys:admin'] } });
    expect(granted.status).toBe(400);
  });
});

const OPERATOR_KEY = 'test-operator-key-0123456789abcdef-0123456789';

describe.runIf(OWN_HOSTS)('security: the operator credential', () => {
  let host: TestHost;
  const op = (method: string, path: string, body?: unknown, bearer: string = OPERATOR_KEY): Promise<Res> =>
    callAt(host.url, method, path, { bearer, ...(body === undefined ? {} : { body }) });

  beforeAll(async () => {
    host = await startTestHost({ store: 'memory', workflowsDirs: [], config: { operatorKey: OPERATOR_KEY } });
  });
  afterAll(async () => {
    await host?.stop();
  });

  it('invariant: operator-required-host-wide — the operator lists, creates, rotates and revokes keys of every tenant', async () => {
    const a = await op('POST', '/v1/host/weft/keys', { scopes: ['runs:read'] }, TEST_KEYS.tenantA);
    expect(a.status).toBe(201);
    const aId = String(a.body.keyId);

    const listed = await op('GET', '/v1/host/weft/keys');
    expect(listed.status).toBe(200);
    expect((listed.body.keys as KeyView[]).map((k) => k.keyId)).toContain(aId);
    expect((await op('GET', '/v1/host/weft/keys?tenant=a&tenant=b')).status).toBe(400);
    expect((await op('GET', '/v1/host/weft/keys?tenant=bad%20tenant')).status).toBe(400);
    const onlyB = await op('GET', '/v1/host/weft/keys?tenant=tenant-b');
    expect((onlyB.body.keys as KeyView[]).every((k) => k.tenant === 'tenant-b')).toBe(true);

    const b = await op('POST', '/v1/host/weft/keys', { tenant: 'tenant-b', scopes: ['runs:read', 'runs:create'] });
    expect(b.status).toBe(201);
    expect(b.body).toMatchObject({ tenant: 'tenant-b', scopes: ['runs:create', 'runs:read'] });
    const run = await callAt(host.url, 'GET', '/v1/runs', { bearer: String(b.body.secret) });
    expect(run.status).toBe(200);

    const rotated = await op('POST', `/v1/host/weft/keys/${aId}:rotate`, {});
    expect(rotated.status).toBe(201);
    expect(rotated.body).toMatchObject({ tenant: 'tenant-a' });
    const revoked = await op('POST', `/v1/host/weft/keys/${aId}:revoke`, {});
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ status: 'revoked' });

    // The audit log records that the operator acted.
    const entries = await host.store.readAuditEntries(0, 1000, 1000);
    const byOperator = entries.filter((e) => e.target === aId && e.action !== 'key.created');
    expect(byOperator.map((e) => e.action)).toEqual(['key.rotated', 'key.revoked']);
    for (const e of byOperator) expect(e.details).toMatchObject({ operator: true });
    expect((await op('GET', '/v1/audit/verify?fromSeq=0&toSeq=1000')).status).toBe(200);
  });

  it('invariant: operator-required-host-wide — the operator belongs to no tenant: it must name one and reaches no run', async () => {
    const unnamed = await op('POST', '/v1/host/weft/keys', { scopes: ['runs:read'] });
    expect(unnamed.status).toBe(400);
    expect(unnamed.body).toMatchObject({ error: 'validation_error' });
    const runs = await op('GET', '/v1/runs');
    expect(runs.status).toBe(403);
    expect(runs.body).toMatchObject({ error: 'forbidden', details: { scopeRequired: 'runs:read' } });
    const create = await op('POST', '/v1/runs', { workflowId: 'conformance-noop' });
    expect(create.status).toBe(403);
  });

  it('invariant: secret-leakage-auth-middleware — a near-miss of the operator key is 401 and never echoed; tenant keys stay tenant-bound', async () => {
    const near = `${OPERATOR_KEY.slice(0, -1)}X`;
    const r = await op('GET', '/v1/host/weft/keys', undefined, near);
    expect(r.status).toBe(401);
    expect(r.text).not.toContain(near);
    expect(r.text).not.toContain(OPERATOR_KEY);
    const foreign = await op('GET', '/v1/host/weft/keys?tenant=tenant-a', undefined, TEST_KEYS.tenantB);
    expect(foreign.status).toBe(403);
  });
});
