/**
 * The secrets vault (Weft host extension, `/v1/host/weft/secrets`): values are write-only,
 * metadata only on the wire, tenant-bound lookups, scopes checked before anything is looked up,
 * ETag / If-Match / Idempotency-Key on mutations. Host-internal parts (the store holds
 * ciphertext only, logs never carry a value, the resolver and its redaction hook, master-key
 * rotation and rewrap) run against hosts this file starts itself.
 *
 * @see security-contract.md §4.1, §4.2; docs/decisions/0018-secrets-vault.md
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkContract } from '../contract-check.js';
import { type Res, call, callAt, freshKey, lacks, notInProcess, target } from '../harness.js';
import { LineCapture, headerValues } from '../own-host.js';

/** A distinct canary value per call, assembled at runtime so secret scanners do not flag the source. */
const canary = (label = 'v'): string => ['CANARY-openwop-CONFORMANCE-NEVER-SECRET', label, randomBytes(9).toString('base64url')].join('-');
const sid = (p = 's'): string => `${p}-${randomBytes(6).toString('hex')}`;
const ROOT = '/v1/host/weft/secrets';

interface Meta {
  secretId: string;
  scope: string;
  version: number;
  description?: string;
  createdAt: string;
  updatedAt: string;
}

/** Asserts a response carries no trace of `value`: not in the body, not in any header. */
function noValue(r: Res<unknown>, value: string): void {
  expect(r.text).not.toContain(value);
  for (const h of headerValues(r.headers)) expect(h).not.toContain(value);
}

function isMeta(m: unknown): asserts m is Meta {
  expect(Object.keys(m as object).sort()).toEqual(expect.arrayContaining(['createdAt', 'scope', 'secretId', 'updatedAt', 'version']));
  for (const k of Object.keys(m as object)) expect(['secretId', 'scope', 'version', 'description', 'createdAt', 'updatedAt']).toContain(k);
  expect((m as Meta).scope).toBe('tenant');
}

async function create(secretId: string, value: string, key?: string, extra: Record<string, unknown> = {}): Promise<Res<Meta>> {
  return call<Meta>('POST', ROOT, { body: { secretId, value, ...extra }, ...(key === undefined ? {} : { key }) });
}

describe.skipIf(await lacks('the secrets vault scenarios', { routes: ['vault'] }))('weft: secrets vault API', () => {
  it('discovery advertises secret resolution into nodes (tenant scope, host-managed) and the vault API apart', async () => {
    const r = await call<{ secrets?: { supported: boolean }; extensions?: { vault?: Record<string, unknown> } }>('GET', '/.well-known/openwop', { key: null });
    checkContract('capabilities', r.body);
    expect(r.body.secrets).toEqual({ supported: true, scopes: ['tenant'], resolution: 'host-managed' });
    expect(r.body.extensions?.vault).toMatchObject({ supported: true, endpoint: ROOT, scopes: ['tenant'], nodeResolution: true });
  });

  it('invariant: vault-value-write-only — create answers metadata only (no-store, ETag); list, get and every header never carry the value', async () => {
    const id = sid();
    const value = canary('create');
    const c = await create(id, value, undefined, { description: 'provider key' });
    expect(c.status).toBe(201);
    noValue(c, value);
    isMeta(c.body);
    expect(c.body).toMatchObject({ secretId: id, version: 1, description: 'provider key' });
    expect(c.headers.get('cache-control')).toBe('no-store');
    expect(c.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    const list = await call<{ secrets: Meta[] }>('GET', ROOT);
    expect(list.status).toBe(200);
    noValue(list, value);
    expect(list.headers.get('cache-control')).toBe('no-store');
    const mine = list.body.secrets.find((s) => s.secretId === id);
    expect(mine).toEqual(c.body);
    for (const s of list.body.secrets) isMeta(s);
    const one = await call<Meta>('GET', `${ROOT}/${id}`);
    expect(one.status).toBe(200);
    noValue(one, value);
    expect(one.body).toEqual(c.body);
    expect(one.headers.get('etag')).toBe(c.headers.get('etag'));
    const again = await call('GET', `${ROOT}/${id}`, { headers: { 'if-none-match': c.headers.get('etag') as string } });
    expect(again.status).toBe(304);
    // The OpenAPI document declares the value write-only.
    const doc = await call<{ components: { schemas: Record<string, { properties: Record<string, { writeOnly?: boolean }> }> } }>('GET', '/v1/openapi.json', {
      key: null,
    });
    expect(doc.body.components.schemas.CreateSecretRequest?.properties.value?.writeOnly).toBe(true);
    expect(Object.keys(doc.body.components.schemas.SecretMetadata?.properties ?? {})).not.toContain('value');
  });

  it('refuses a second secret with the same id; rotation bumps the version and ETag; If-Match guards rotate and delete', async () => {
    const id = sid();
    const v1 = canary('v1');
    const v2 = canary('v2');
    const c = await create(id, v1);
    expect(c.status).toBe(201);
    const dup = await create(id, canary('dup'));
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ error: 'secret_already_exists', details: { secretId: id } });
    const etag1 = c.headers.get('etag') as string;
    const rot = await call<Meta>('POST', `${ROOT}/${id}:rotate`, { body: { value: v2 }, headers: { 'if-match': etag1 } });
    expect(rot.status).toBe(200);
    noValue(rot, v1);
    noValue(rot, v2);
    expect(rot.body).toMatchObject({ secretId: id, version: 2 });
    expect(Date.parse(rot.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(c.body.updatedAt));
    const etag2 = rot.headers.get('etag') as string;
    expect(etag2).not.toBe(etag1);
    // A stale ETag loses, for rotate and for delete, and changes nothing.
    const stale = await call('POST', `${ROOT}/${id}:rotate`, { body: { value: canary('v3') }, headers: { 'if-match': etag1 } });
    expect(stale.status).toBe(412);
    expect(stale.body).toMatchObject({ error: 'precondition_failed' });
    const staleDel = await call('DELETE', `${ROOT}/${id}`, { headers: { 'if-match': etag1 } });
    expect(staleDel.status).toBe(412);
    expect((await call<Meta>('GET', `${ROOT}/${id}`)).body.version).toBe(2);
    const del = await call('DELETE', `${ROOT}/${id}`, { headers: { 'if-match': etag2 } });
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect((await call('GET', `${ROOT}/${id}`)).status).toBe(404);
    expect((await call('DELETE', `${ROOT}/${id}`)).status).toBe(404);
    expect((await call('POST', `${ROOT}/${id}:rotate`, { body: { value: canary() } })).status).toBe(404);
    // The id is free again, from version 1, with a new ETag.
    const re = await create(id, canary('re'));
    expect(re.status).toBe(201);
    expect(re.body.version).toBe(1);
    expect(re.headers.get('etag')).not.toBe(etag1);
  });

  it('invariant: idempotency-replay — a retried create or rotate with the same Idempotency-Key replays; another value under that key is a mismatch', async () => {
    const id = sid();
    const value = canary('idem');
    const key = freshKey();
    const first = await call<Meta>('POST', ROOT, { body: { secretId: id, value }, headers: { 'idempotency-key': key } });
    expect(first.status).toBe(201);
    const replay = await call<Meta>('POST', ROOT, { body: { secretId: id, value }, headers: { 'idempotency-key': key } });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('openwop-idempotent-replay')).toBe('true');
    expect(replay.body).toEqual(first.body);
    noValue(replay, value);
    const other = await call('POST', ROOT, { body: { secretId: id, value: canary('other') }, headers: { 'idempotency-key': key } });
    expect(other.status).toBe(409);
    expect(other.body).toMatchObject({ error: 'idempotency_key_mismatch' });
    const rk = freshKey();
    const v2 = canary('rot');
    const r1 = await call<Meta>('POST', `${ROOT}/${id}:rotate`, { body: { value: v2 }, headers: { 'idempotency-key': rk } });
    const r2 = await call<Meta>('POST', `${ROOT}/${id}:rotate`, { body: { value: v2 }, headers: { 'idempotency-key': rk } });
    expect(r1.body.version).toBe(2);
    expect(r2.body).toEqual(r1.body);
    expect(r2.headers.get('openwop-idempotent-replay')).toBe('true');
    expect((await call<Meta>('GET', `${ROOT}/${id}`)).body.version).toBe(2);
    const dk = freshKey();
    expect((await call('DELETE', `${ROOT}/${id}`, { headers: { 'idempotency-key': dk } })).status).toBe(204);
    const d2 = await call('DELETE', `${ROOT}/${id}`, { headers: { 'idempotency-key': dk } });
    expect(d2.status).toBe(204);
    expect(d2.headers.get('openwop-idempotent-replay')).toBe('true');
  });

  it.skipIf(!target.keyB)(
    "invariant: no-cross-tenant-oracle — another tenant's secret answers exactly like a missing one on every vault route and never appears in its lists",
    async () => {
      const id = sid('a');
      const value = canary('tenant-a');
      expect((await create(id, value)).status).toBe(201);
      const b = target.keyB as string;
      const missing = sid('none');
      const probes: [string, (x: string) => string, unknown?][] = [
        ['GET', (x) => `${ROOT}/${x}`],
        ['POST', (x) => `${ROOT}/${x}:rotate`, { value: canary('b') }],
        ['DELETE', (x) => `${ROOT}/${x}`],
      ];
      for (const [method, path, body] of probes) {
        const foreign = await call(method, path(id), { key: b, ...(body === undefined ? {} : { body }) });
        const none = await call(method, path(missing), { key: b, ...(body === undefined ? {} : { body }) });
        expect(foreign.status).toBe(404);
        expect(foreign.status).toBe(none.status);
        expect(foreign.text).toBe(none.text);
        expect(foreign.headers.get('etag')).toBeNull();
        noValue(foreign, value);
      }
      const listB = await call<{ secrets: Meta[] }>('GET', ROOT, { key: b });
      expect(listB.body.secrets.map((s) => s.secretId)).not.toContain(id);
      // B may hold the same id independently; A's secret is untouched by all of this.
      expect((await create(id, canary('tenant-b'), b)).status).toBe(201);
      const a = await call<Meta>('GET', `${ROOT}/${id}`);
      expect(a.body.version).toBe(1);
    },
  );

  it.skipIf(!target.keyReadOnly)(
    'invariant: scope-enforced — vault reads need secrets:read and mutations secrets:write, checked before any lookup',
    async () => {
      const ro = target.keyReadOnly as string;
      const cases: [string, string, string, unknown?][] = [
        ['GET', ROOT, 'secrets:read'],
        ['GET', `${ROOT}/${sid()}`, 'secrets:read'],
        ['POST', ROOT, 'secrets:write', { secretId: sid(), value: canary() }],
        ['POST', `${ROOT}/${sid()}:rotate`, 'secrets:write', { value: canary() }],
        ['DELETE', `${ROOT}/${sid()}`, 'secrets:write'],
      ];
      for (const [method, path, scope, body] of cases) {
        const r = await call(method, path, { key: ro, ...(body === undefined ? {} : { body }) });
        expect(r.status, `${method} ${path}`).toBe(403);
        expect(r.body).toMatchObject({ error: 'forbidden', details: { scopeRequired: scope } });
      }
    },
  );

  it('invariant: auth-before-lookup — without a credential every vault route answers 401, for a missing secret too', async () => {
    for (const [method, path, body] of [
      ['GET', ROOT],
      ['GET', `${ROOT}/${sid('nope')}`],
      ['POST', ROOT, { secretId: sid(), value: canary() }],
      ['POST', `${ROOT}/${sid('nope')}:rotate`, { value: canary() }],
      ['DELETE', `${ROOT}/${sid('nope')}`],
      ['POST', '/v1/host/weft/vault:rewrap', {}],
    ] as [string, string, unknown?][]) {
      const r = await call(method, path, { key: null, ...(body === undefined ? {} : { body }) });
      expect(r.status, `${method} ${path}`).toBe(401);
    }
  });

  it('only the operator credential may rewrap the vault', async () => {
    const r = await call('POST', '/v1/host/weft/vault:rewrap', { body: {} });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ error: 'forbidden', details: { scopeRequired: 'keys:admin' } });
  });

  it('invariant: secret-leakage-error-envelope — malformed vault requests are 400 validation_error and never echo the value', async () => {
    const value = canary('bad');
    const bad: [string, string, unknown][] = [
      ['POST', ROOT, { secretId: sid() }],
      ['POST', ROOT, { value }],
      ['POST', ROOT, { secretId: sid(), value: 'short' }],
      ['POST', ROOT, { secretId: sid(), value: 'x'.repeat(65_537) }],
      ['POST', ROOT, { secretId: sid(), value: 1_234_567_890_123_456 }],
      ['POST', ROOT, { secretId: 'bad id!', value }],
      ['POST', ROOT, { secretId: 'x'.repeat(129), value }],
      ['POST', ROOT, { secretId: sid(), value, extra: value }],
      ['POST', ROOT, { secretId: sid(), value, tenant: 'tenant-b' }],
      ['POST', ROOT, { secretId: sid(), value, description: `bad\u0000${value}` }],
      ['POST', `${ROOT}/${sid()}:rotate`, { value: 'short' }],
      ['POST', `${ROOT}/${sid()}:rotate`, { value, secretId: 'x' }],
    ];
    for (const [method, path, body] of bad) {
      const r = await call(method, path, { body });
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(r.body).toMatchObject({ error: 'validation_error' });
      noValue(r, value);
    }
    // A path id outside the grammar cannot exist: it answers like a missing secret.
    expect((await call('GET', `${ROOT}/${encodeURIComponent('a b')}`)).status).toBe(404);
    expect((await call('POST', `${ROOT}/${sid()}:explode`, { body: {} })).status).toBe(404);
  });
});

/** The test kit, for the hosts this file starts itself (only against the in-process host). */
const kit = target.inProcess ? await import('@weft/testkit') : undefined;
const projectStore = (process.env.WEFT_TEST_STORE ?? target.store) as 'memory' | 'sqlite' | 'postgres';
const OPERATOR = `operator-${randomBytes(24).toString('hex')}`;
const TENANT_A = 'test-tenant-a-key-0123456789abcdef';
const TENANT_B = 'test-tenant-b-key-0123456789abcdef';

describe.skipIf(notInProcess('the vault internals scenarios'))(`weft: vault internals (${projectStore})`, () => {
  type Host = Awaited<ReturnType<NonNullable<typeof kit>['startTestHost']>>;
  let host: Host;
  const logs = new LineCapture();

  beforeAll(async () => {
    host = await (kit as NonNullable<typeof kit>).startTestHost({
      store: projectStore,
      logDestination: logs,
      config: { logLevel: 'debug', operatorKey: OPERATOR },
    });
  }, 60_000);
  afterAll(async () => {
    await host?.stop();
  });

  const at = <T = Record<string, unknown>>(method: string, path: string, bearer: string, body?: unknown): Promise<Res<T>> =>
    callAt<T>(host.url, method, path, { bearer, ...(body === undefined ? {} : { body }) });

  it('invariant: vault-resolution-tenant-bound — the resolver returns the value only to its tenant; a missing, foreign or deleted ref is credential_not_found', async () => {
    const vault = host.vault;
    expect(vault).toBeDefined();
    if (!vault) return;
    const id = sid('res');
    const v1 = canary('res1');
    expect((await at('POST', ROOT, TENANT_A, { secretId: id, value: v1 })).status).toBe(201);
    expect(await vault.resolver.resolve('tenant-a', id, { runId: 'r1', nodeId: 'n1' })).toEqual({ ok: true, value: v1, version: 1 });
    const foreign = await vault.resolver.resolve('tenant-b', id);
    const missing = await vault.resolver.resolve('tenant-a', sid('none'));
    expect(foreign).toEqual({ ok: false, code: 'credential_not_found', message: expect.any(String) });
    expect(foreign).toEqual(missing);
    expect(await vault.resolver.resolve('tenant-a', '../../etc')).toEqual(missing);
    const v2 = canary('res2');
    expect((await at('POST', `${ROOT}/${id}:rotate`, TENANT_A, { value: v2 })).status).toBe(200);
    expect(await vault.resolver.resolve('tenant-a', id)).toEqual({ ok: true, value: v2, version: 2 });
    expect((await at('DELETE', `${ROOT}/${id}`, TENANT_A)).status).toBe(204);
    expect(await vault.resolver.resolve('tenant-a', id)).toEqual(missing);
  });

  it("invariant: vault-resolved-redacted — every resolved value is registered with its tenant's redactor (marker [REDACTED:<ref>]) and nobody else's", async () => {
    const vault = host.vault;
    if (!vault) throw new Error('vault disabled');
    const id = sid('red');
    const value = canary('red');
    await at('POST', ROOT, TENANT_A, { secretId: id, value });
    // Not registered before it is resolved (the value never left the vault).
    expect(vault.redactors.for('tenant-a').redactText(`x ${value} y`)).toBe(`x ${value} y`);
    await vault.resolver.resolve('tenant-a', id);
    expect(vault.redactors.for('tenant-a').redactText(`x ${value} y`)).toBe(`x [REDACTED:${id}] y`);
    expect(vault.redactors.for('tenant-a').redactJson(JSON.stringify({ out: `echo ${value}` }))).toBe(JSON.stringify({ out: `echo [REDACTED:${id}]` }));
    // Another tenant's outputs are not touched by A's values (no cross-tenant blanking).
    expect(vault.redactors.for('tenant-b').redactText(`x ${value} y`)).toBe(`x ${value} y`);
  });

  it('invariant: vault-ciphertext-only — the database holds no value and no plain hash of it; no log line carries one', async () => {
    const value = canary('db');
    const rotated = canary('db2');
    const id = sid('db');
    const created = await callAt(host.url, 'POST', ROOT, {
      bearer: TENANT_A,
      body: { secretId: id, value, description: 'stored encrypted' },
      headers: { 'idempotency-key': freshKey() },
    });
    expect(created.status).toBe(201);
    await at('POST', `${ROOT}/${id}:rotate`, TENANT_A, { value: rotated });
    await at('POST', ROOT, TENANT_A, { secretId: id, value: canary('conflict') });
    await at('POST', ROOT, TENANT_A, { secretId: sid('bad'), value: `${value.slice(0, 10)}` });
    await host.vault?.resolver.resolve('tenant-a', id);
    const raw = await host.store.getSecret('tenant-a', id);
    expect(raw).toBeDefined();
    const row = JSON.stringify(raw);
    for (const v of [value, rotated]) {
      expect(row).not.toContain(v);
      expect(logs.text).not.toContain(v);
      expect(logs.text).not.toContain(Buffer.from(v).toString('base64'));
    }
    expect(raw?.masterKeyId).toBeTruthy();
    const dataDir = host.dataDir;
    if (projectStore === 'sqlite') {
      // Every byte of the database files (WAL included).
      for (const f of readdirSync(dataDir).filter((n) => n.startsWith('weft.db'))) {
        const bytes = readFileSync(join(dataDir, f)).toString('latin1');
        for (const v of [value, rotated]) {
          expect(bytes).not.toContain(v);
          // Nor a plain digest of it (the Idempotency-Key request hash covers an HMAC).
          expect(bytes).not.toContain(createHash('sha256').update(v).digest('hex'));
        }
        // The request hash an unkeyed scheme would store for the idempotent create above.
        const plainBodyHash = createHash('sha256')
          .update(JSON.stringify({ description: 'stored encrypted', secretId: id, value }))
          .digest('hex');
        expect(bytes).not.toContain(plainBodyHash);
      }
    }
  });

  it('invariant: vault-audit-content-free — every vault mutation and resolution is audited with ids and versions, never the value', async () => {
    const id = sid('aud');
    const value = canary('aud');
    await at('POST', ROOT, TENANT_A, { secretId: id, value });
    await at('POST', `${ROOT}/${id}:rotate`, TENANT_A, { value: `${value}-2` });
    await host.vault?.resolver.resolve('tenant-a', id, { runId: 'run-1', nodeId: 'node-1' });
    await at('DELETE', `${ROOT}/${id}`, TENANT_A);
    const entries = (await host.store.readAuditEntries(0, Number.MAX_SAFE_INTEGER, 100_000)).filter((e) => e.target === id);
    expect(entries.map((e) => e.action)).toEqual(['secret.created', 'secret.rotated', 'secret.resolved', 'secret.deleted']);
    expect(entries.map((e) => e.tenant)).toEqual(['tenant-a', 'tenant-a', 'tenant-a', 'tenant-a']);
    expect(entries[2]?.details).toEqual({ version: 2, runId: 'run-1', nodeId: 'node-1' });
    expect(JSON.stringify(entries)).not.toContain(value);
  });

  it('the operator rewrap answers progress and leaves current rows alone', async () => {
    const r = await at<{ masterKeyId: string; rewrapped: number; remaining: number; unreadable: number }>('POST', '/v1/host/weft/vault:rewrap', OPERATOR, {});
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ masterKeyId: expect.any(String), rewrapped: 0, remaining: 0, unreadable: 0 });
    expect(r.headers.get('cache-control')).toBe('no-store');
    // A tenant key with every tenant scope is still refused.
    expect((await at('POST', '/v1/host/weft/vault:rewrap', TENANT_B, {})).status).toBe(403);
  });
});

describe.skipIf(notInProcess('the master-key rotation scenario') || projectStore !== 'sqlite')('weft: master-key rotation (sqlite)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-vault-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const k1 = `k1:${randomBytes(32).toString('base64url')}`;
  const k2 = `k2:${randomBytes(32).toString('base64url')}`;

  type Host = Awaited<ReturnType<NonNullable<typeof kit>['startTestHost']>>;
  async function withHost<T>(config: Record<string, unknown>, fn: (h: Host) => Promise<T>): Promise<T> {
    const h = await (kit as NonNullable<typeof kit>).startTestHost({
      store: 'sqlite',
      dataDir: dir,
      workflowsDirs: [],
      config: { apiKeys: [{ tenant: 'tenant-a', key: TENANT_A }], operatorKey: OPERATOR, ...config },
    });
    try {
      return await fn(h);
    } finally {
      await h.stop();
    }
  }

  it('invariant: vault-master-key-rotation — a new current key wraps, the old one reads until the operator rewraps, then it can go', async () => {
    const id = sid('mk');
    const value = canary('mk');
    await withHost({ masterKey: k1 }, async (h) => {
      expect((await callAt(h.url, 'POST', ROOT, { bearer: TENANT_A, body: { secretId: id, value } })).status).toBe(201);
      expect((await h.store.getSecret('tenant-a', id))?.masterKeyId).toBe('k1');
    });
    // Only the new key: the old row cannot be opened — the resolver fails closed.
    await withHost({ masterKey: k2 }, async (h) => {
      expect(await h.vault?.resolver.resolve('tenant-a', id)).toEqual({ ok: false, code: 'credential_unavailable', message: expect.any(String) });
      const r = await callAt<{ unreadable: number; rewrapped: number }>(h.url, 'POST', '/v1/host/weft/vault:rewrap', { bearer: OPERATOR, body: {} });
      expect(r.body).toMatchObject({ rewrapped: 0, unreadable: 1 });
    });
    // New key current, old kept for reading: reads work, then the rewrap moves the data key.
    await withHost({ masterKey: `${k2},${k1}` }, async (h) => {
      expect(await h.vault?.resolver.resolve('tenant-a', id)).toEqual({ ok: true, value, version: 1 });
      const r = await callAt<{ masterKeyId: string; rewrapped: number; remaining: number }>(h.url, 'POST', '/v1/host/weft/vault:rewrap', {
        bearer: OPERATOR,
        body: {},
      });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ masterKeyId: 'k2', rewrapped: 1, remaining: 0, unreadable: 0 });
      expect((await h.store.getSecret('tenant-a', id))?.masterKeyId).toBe('k2');
    });
    await withHost({ masterKey: k2 }, async (h) => {
      expect(await h.vault?.resolver.resolve('tenant-a', id)).toEqual({ ok: true, value, version: 1 });
    });
  });

  it('invariant: vault-master-key-strength — a weak or malformed configured master key stops the host at start', async () => {
    for (const masterKey of [`k:${'ab'.repeat(32)}`, 'k:short', `k1:${randomBytes(32).toString('hex')},k1:${randomBytes(32).toString('hex')}`]) {
      await expect(withHost({ masterKey }, async () => undefined)).rejects.toThrow(/WEFT_MASTER_KEY/);
    }
  });
});
