/**
 * Managed API keys (`openwop-auth-api-key-rotation`): lifecycle through the admin API on the
 * shared host, expiry and storage on hosts started here (host-internal), and `weft keys` end to
 * end with the built CLI.
 *
 * @see security-contract.md §1.4, §9 test 18
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkContract } from '../contract-check.js';
import { assertErrorEnvelope, call, lacks, notInProcess, target } from '../harness.js';

const CANARY = 'CANARY-openwop-CONFORMANCE-NEVER-SECRET';

/** The test kit, for the hosts this file starts itself (only against the in-process host). */
const kit = target.inProcess ? await import('@weft/testkit') : undefined;
/**
 * The store of this project, for the hosts started here. The project's `test.env` reaches the
 * test workers but not global-setup.ts, so `target.store` (the shared host) is not reliable.
 */
const projectStore = (process.env.WEFT_TEST_STORE ?? target.store) as 'memory' | 'sqlite' | 'postgres';
type Host = Awaited<ReturnType<NonNullable<typeof kit>['startTestHost']>>;

interface Issued {
  keyId: string;
  tenant: string;
  principal: string;
  scopes: string[];
  status: string;
  secret: string;
  rotated?: { keyId: string; graceUntil: string };
}

async function createKey(body: Record<string, unknown>, key?: string): Promise<Issued> {
  const r = await call<Issued>('POST', '/v1/host/weft/keys', { body, ...(key === undefined ? {} : { key }) });
  if (r.status !== 201) throw new Error(`create key → ${r.status} ${r.text}`);
  return r.body;
}

async function runOwner(runId: string, key: string): Promise<{ tenant: string; principal: string }> {
  const r = await call<{ owner: { tenant: string; principal: string } }>('GET', `/v1/runs/${runId}`, { key });
  expect(r.status).toBe(200);
  return r.body.owner;
}

// These scenarios rely on the key set of the suite's own host (tenants, keys:admin), so an
// external target skips them, as does one without the key API.
describe.skipIf(
  notInProcess('the managed-key scenarios', "they rely on the key set of the suite's own host") ||
    (await lacks('the managed-key scenarios', { routes: ['managedKeys'] })),
)('weft: managed API keys', () => {
  it('advertises the rotation profile with a minimum grace window', async () => {
    const r = await call<{ auth?: { profiles: string[]; rotation?: { supported: boolean; minGraceSeconds: number } } }>('GET', '/.well-known/openwop', {
      key: null,
    });
    checkContract('capabilities', r.body);
    expect(r.body.auth?.profiles).toContain('openwop-auth-api-key-rotation');
    expect(r.body.auth?.rotation).toEqual({ supported: true, minGraceSeconds: 86_400 });
  });

  it('invariant: key-rotation-overlap — during the grace window old and new key both work as the same principal and tenant, creating distinct runs', async () => {
    const k1 = await createKey({ name: 'ci', scopes: ['runs:create', 'runs:read'] });
    expect(k1.secret).toMatch(/^weft_[0-9a-f]{18}_[A-Za-z0-9_-]{43}$/);
    expect(k1.tenant).toBe('tenant-a');
    const rot = await call<Issued>('POST', `/v1/host/weft/keys/${k1.keyId}:rotate`, { body: {} });
    expect(rot.status).toBe(201);
    expect(rot.headers.get('cache-control')).toBe('no-store');
    const k2 = rot.body;
    expect(k2.keyId).not.toBe(k1.keyId);
    expect(k2.secret).not.toBe(k1.secret);
    expect(k2.scopes).toEqual(k1.scopes);
    expect(Date.parse(k2.rotated?.graceUntil as string) - Date.now()).toBeGreaterThan(86_000_000);
    const runs: string[] = [];
    for (const secret of [k1.secret, k2.secret]) {
      const r = await call<{ runId: string }>('POST', '/v1/runs', { key: secret, body: { workflowId: 'conformance-noop' } });
      expect(r.status).toBe(201);
      runs.push(r.body.runId);
    }
    expect(new Set(runs).size).toBe(2);
    const owners = await Promise.all(runs.map((id, i) => runOwner(id, i === 0 ? k1.secret : k2.secret)));
    expect(owners[0]).toEqual(owners[1]);
    expect(owners[0]).toEqual({ tenant: 'tenant-a', principal: `key_${k1.keyId}` });
    // Each key reads the other's run: one principal, one tenant.
    expect((await call('GET', `/v1/runs/${runs[1]}`, { key: k1.secret })).status).toBe(200);
    const list = await call<{ keys: { keyId: string; status: string }[] }>('GET', '/v1/host/weft/keys');
    expect(list.body.keys.find((k) => k.keyId === k1.keyId)?.status).toBe('rotating');
    expect(list.body.keys.find((k) => k.keyId === k2.keyId)?.status).toBe('active');
    // A key already rotated cannot be rotated again.
    const again = await call('POST', `/v1/host/weft/keys/${k1.keyId}:rotate`, { body: {} });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: 'key_state_conflict' });
  });

  it('invariant: key-revoked-expired-401 — a revoked key answers 401 key_revoked at once, its successor keeps working', async () => {
    const k1 = await createKey({ scopes: ['runs:read'] });
    const k2 = (await call<Issued>('POST', `/v1/host/weft/keys/${k1.keyId}:rotate`, { body: { graceSeconds: 172_800 } })).body;
    expect((await call('GET', '/v1/runs', { key: k1.secret })).status).toBe(200);
    const rev = await call<{ status: string; revokedAt: string }>('POST', `/v1/host/weft/keys/${k1.keyId}:revoke`, { body: {} });
    expect(rev.status).toBe(200);
    expect(rev.body.status).toBe('revoked');
    const r = await call('GET', '/v1/runs', { key: k1.secret });
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ error: 'key_revoked' });
    expect(r.text).not.toContain(k1.secret);
    expect((await call('GET', '/v1/runs', { key: k2.secret })).status).toBe(200);
    // Revoking again is harmless and keeps the first time.
    const again = await call<{ revokedAt: string }>('POST', `/v1/host/weft/keys/${k1.keyId}:revoke`);
    expect(again.body.revokedAt).toBe(rev.body.revokedAt);
  });

  it('invariant: auth-key-rotation-no-canary-echo — an unknown managed-looking key answers 401 without echoing it', async () => {
    for (const token of [`weft_${'0'.repeat(18)}_${'A'.repeat(43)}`, `hk_openwop_canary_${CANARY}_NOT_A_REAL_KEY`]) {
      const r = await call('POST', '/v1/runs', { key: token, body: { workflowId: 'conformance-noop' } });
      expect(r.status).toBe(401);
      expect(r.body).toMatchObject({ error: 'unauthenticated' });
      expect(r.text).not.toContain(token);
      expect(r.text).not.toContain(CANARY);
      for (const [, v] of r.headers) expect(v).not.toContain(token);
    }
  });

  it('invariant: key-no-scope-escalation — a key manager hands out only scopes it holds, never keys:admin, and only in its tenant', async () => {
    const mgr = await createKey({ scopes: ['keys:manage', 'runs:read'] });
    const broader = await call('POST', '/v1/host/weft/keys', { key: mgr.secret, body: { scopes: ['runs:create'] } });
    expect(broader.status).toBe(403);
    expect(broader.body).toMatchObject({ error: 'forbidden', details: { scopeRequired: 'runs:create' } });
    const all = await call('POST', '/v1/host/weft/keys', { key: mgr.secret, body: { scopes: ['all'] } });
    expect(all.status).toBe(403);
    const admin = await call('POST', '/v1/host/weft/keys', { body: { scopes: ['keys:admin'] } });
    expect(admin.status).toBe(400);
    const foreign = await call('POST', '/v1/host/weft/keys', { key: mgr.secret, body: { tenant: 'tenant-b', scopes: ['runs:read'] } });
    expect(foreign.status).toBe(403);
    expect(foreign.body).toMatchObject({ details: { scopeRequired: 'keys:admin' } });
    // Rotation would mint a secret with the old key's scopes: only for a caller holding them.
    const wide = await createKey({ scopes: ['runs:create', 'runs:read'] });
    const rot = await call('POST', `/v1/host/weft/keys/${wide.keyId}:rotate`, { key: mgr.secret, body: {} });
    expect(rot.status).toBe(403);
    expect(rot.body).toMatchObject({ details: { scopeRequired: 'runs:create' } });
    const ok = await call<Issued>('POST', '/v1/host/weft/keys', { key: mgr.secret, body: { scopes: ['runs:read'] } });
    expect(ok.status).toBe(201);
    expect(ok.body.tenant).toBe('tenant-a');
  });

  it.skipIf(!target.keyB)('invariant: key-admin-tenant-bound — a key of another tenant looks exactly like a missing key', async () => {
    const a = await createKey({ scopes: ['runs:read'] });
    const bMgr = await createKey({ scopes: ['keys:manage', 'runs:read'] }, target.keyB as string);
    expect(bMgr.tenant).toBe('tenant-b');
    for (const verb of ['rotate', 'revoke']) {
      const foreign = await call('POST', `/v1/host/weft/keys/${a.keyId}:${verb}`, { key: bMgr.secret, body: {} });
      const missing = await call('POST', `/v1/host/weft/keys/${'f'.repeat(18)}:${verb}`, { key: bMgr.secret, body: {} });
      expect(foreign.status).toBe(404);
      expect(foreign.text).toBe(missing.text);
    }
    const listed = await call<{ keys: { keyId: string; tenant: string }[] }>('GET', '/v1/host/weft/keys', { key: bMgr.secret });
    expect(listed.body.keys.every((k) => k.tenant === 'tenant-b')).toBe(true);
    expect((await call('GET', '/v1/runs', { key: a.secret })).status).toBe(200);
  });

  it('lists keys without secrets or hashes', async () => {
    const k = await createKey({ name: 'listed', scopes: ['runs:read'] });
    const r = await call<{ keys: Record<string, unknown>[] }>('GET', '/v1/host/weft/keys');
    expect(r.status).toBe(200);
    const mine = r.body.keys.find((x) => x.keyId === k.keyId);
    expect(mine).toMatchObject({ keyId: k.keyId, tenant: 'tenant-a', name: 'listed', scopes: ['runs:read'], status: 'active' });
    expect(r.text).not.toContain(k.secret);
    expect(r.text).not.toContain(createHash('sha256').update(k.secret).digest('hex'));
    for (const x of r.body.keys) expect(Object.keys(x)).not.toEqual(expect.arrayContaining(['secret']));
  });

  it.skipIf(!target.keyReadOnly)('invariant: scope-enforced — the key API needs keys:manage and authenticates first', async () => {
    const ro = await call('GET', '/v1/host/weft/keys', { key: target.keyReadOnly as string });
    expect(ro.status).toBe(403);
    expect(ro.body).toMatchObject({ error: 'forbidden', details: { scopeRequired: 'keys:manage' } });
    const anon = await call('POST', `/v1/host/weft/keys/${'a'.repeat(18)}:revoke`, { key: null });
    expect(anon.status).toBe(401);
  });

  it('validates bodies and verbs', async () => {
    const bad: [string, string, unknown][] = [
      ['POST', '/v1/host/weft/keys', { scopes: [] }],
      ['POST', '/v1/host/weft/keys', { scopes: ['no:such'] }],
      ['POST', '/v1/host/weft/keys', { scopes: ['runs:read'], expiresInSeconds: 0 }],
      ['POST', '/v1/host/weft/keys', { scopes: ['runs:read'], tenantId: 'x' }],
    ];
    for (const [m, p, body] of bad) {
      const r = await call(m, p, { body });
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ error: 'validation_error' });
    }
    const k = await createKey({ scopes: ['runs:read'] });
    const shortGrace = await call('POST', `/v1/host/weft/keys/${k.keyId}:rotate`, { body: { graceSeconds: 60 } });
    expect(shortGrace.status).toBe(400);
    expect((await call('POST', `/v1/host/weft/keys/${k.keyId}:explode`, { body: {} })).status).toBe(404);
  });
});

/** A request against a host started by this file. */
async function req(
  base: string,
  method: string,
  path: string,
  key: string | null,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown>; text: string }> {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (res.status >= 400) assertErrorEnvelope(parsed);
  return { status: res.status, body: parsed, text };
}

describe.skipIf(notInProcess('the host-internal managed-key scenarios'))('weft: managed API keys, host-internal', () => {
  // The body is collected even when skipped: nothing here may touch the kit before the hooks.
  if (!kit) return;
  const { startTestHost, TEST_KEYS } = kit;
  const store = projectStore;
  let host: Host;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'weft-keys-'));
    host = await startTestHost({ store, workflowsDirs: [], config: { dataDir, keyRotationGraceSeconds: 0 } });
  });
  afterAll(async () => {
    await host?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('invariant: key-revoked-expired-401 — an expired key and a rotated key past its grace answer 401 key_expired', async () => {
    const keyId = randomBytes(9).toString('hex');
    const secret = `weft_${keyId}_${randomBytes(32).toString('base64url')}`;
    const now = Date.now();
    await host.store.createApiKey({
      keyId,
      tenant: 'tenant-a',
      principal: `key_${keyId}`,
      name: 'old',
      scopes: ['runs:read'],
      hash: createHash('sha256').update(secret).digest('hex'),
      createdAt: now - 10_000,
      expiresAt: now - 1,
      revokedAt: null,
      rotatedFrom: null,
      graceUntil: null,
      lastUsedAt: null,
    });
    const expired = await req(host.url, 'GET', '/v1/runs', secret);
    expect(expired.status).toBe(401);
    expect(expired.body.error).toBe('key_expired');
    expect(expired.text).not.toContain(secret);

    // This host's grace window is 0 s: the old key stops the moment it is rotated.
    const created = await req(host.url, 'POST', '/v1/host/weft/keys', TEST_KEYS.tenantA, { scopes: ['runs:read'] });
    expect(created.status).toBe(201);
    const rotated = await req(host.url, 'POST', `/v1/host/weft/keys/${String(created.body.keyId)}:rotate`, TEST_KEYS.tenantA, {});
    expect(rotated.status).toBe(201);
    const old = await req(host.url, 'GET', '/v1/runs', String(created.body.secret));
    expect(old.status).toBe(401);
    expect(old.body.error).toBe('key_expired');
    expect((await req(host.url, 'GET', '/v1/runs', String(rotated.body.secret))).status).toBe(200);
    // Revocation wins over expiry.
    await req(host.url, 'POST', `/v1/host/weft/keys/${String(created.body.keyId)}:revoke`, TEST_KEYS.tenantA, {});
    expect((await req(host.url, 'GET', '/v1/runs', String(created.body.secret))).body.error).toBe('key_revoked');
    const d = await req(host.url, 'GET', '/.well-known/openwop', null);
    expect(d.body.auth).toMatchObject({ rotation: { supported: true, minGraceSeconds: 0 } });
  });

  it('invariant: api-keys-hashed — the store holds a managed key only as its SHA-256', async () => {
    const created = await req(host.url, 'POST', '/v1/host/weft/keys', TEST_KEYS.tenantA, { name: 'hashed', scopes: ['runs:read'] });
    const secret = String(created.body.secret);
    const random = secret.slice(-43);
    const hash = createHash('sha256').update(secret).digest('hex');
    expect((await host.store.getApiKey(String(created.body.keyId)))?.hash).toBe(hash);
    let dump: string;
    if (store === 'sqlite') {
      // Every byte the database wrote: the main file and the write-ahead log.
      dump = readdirSync(dataDir)
        .filter((f) => f.startsWith('weft.db'))
        .map((f) => readFileSync(join(dataDir, f)).toString('latin1'))
        .join('\n');
    } else {
      dump = JSON.stringify([await host.store.listApiKeys(), await host.store.readAuditEntries(0, 1_000_000, 100_000)]);
    }
    expect(dump).toContain(hash);
    expect(dump).not.toContain(random);
    expect(dump).not.toContain(random.slice(0, 20));
  });
});

/** Runs the built CLI. */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = join((kit as NonNullable<typeof kit>).REPO_ROOT, 'packages', 'cli', 'dist', 'bin.js');
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(OPENWOP|WEFT)_/.test(k))) as Record<string, string>;
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { ...clean, NO_COLOR: '1', ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe.skipIf(projectStore !== 'sqlite' || notInProcess('the weft keys CLI scenarios'))('weft keys: the CLI end to end', () => {
  if (!kit) return;
  const { startTestHost } = kit;
  let dataDir: string;
  let host: Host | undefined;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'weft-cli-keys-'));
  });
  afterAll(async () => {
    await host?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('invariant: key-rotation-overlap — bootstraps an admin key offline, then creates, lists, rotates and revokes through the API', async () => {
    const boot = await cli(['keys', 'create', '--data-dir', dataDir, '--tenant', 'acme', '--scopes', 'all', '--name', 'admin']);
    expect(boot.code).toBe(0);
    const admin = /^\s+(weft_[0-9a-f]{18}_[A-Za-z0-9_-]{43})$/m.exec(boot.stdout)?.[1] as string;
    expect(admin).toBeTruthy();
    expect(boot.stdout).toContain('shown once');

    // A host on that data directory, with no configured key at all.
    host = await startTestHost({ store: 'sqlite', workflowsDirs: [], config: { dataDir, apiKeys: [] } });
    const env = { OPENWOP_BASE_URL: host.url, OPENWOP_API_KEY: admin };
    const made = await cli(['--json', 'keys', 'create', '--scopes', 'runs:read,runs:create', '--name', 'ci', '--expires-in', '30d'], env);
    expect(made.code).toBe(0);
    const ci = JSON.parse(made.stdout) as Issued & { expiresAt: string };
    expect(ci).toMatchObject({ tenant: 'acme', scopes: ['runs:create', 'runs:read'], status: 'active' });
    expect(Date.parse(ci.expiresAt) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    expect((await req(host.url, 'GET', '/v1/runs', ci.secret)).status).toBe(200);

    const listed = await cli(['keys', 'list'], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(ci.keyId);
    expect(listed.stdout).not.toContain(ci.secret);

    const rot = await cli(['--json', 'keys', 'rotate', ci.keyId, '--grace', '2d'], env);
    expect(rot.code).toBe(0);
    const next = JSON.parse(rot.stdout) as Issued;
    expect(next.rotated?.keyId).toBe(ci.keyId);
    for (const s of [ci.secret, next.secret]) expect((await req(host.url, 'GET', '/v1/runs', s)).status).toBe(200);

    const rev = await cli(['keys', 'revoke', ci.keyId], env);
    expect(rev.code).toBe(0);
    expect(rev.stdout).toContain(`revoked ${ci.keyId}`);
    expect((await req(host.url, 'GET', '/v1/runs', ci.secret)).body.error).toBe('key_revoked');
    expect((await req(host.url, 'GET', '/v1/runs', next.secret)).status).toBe(200);

    // Refusals surface as error lines with the wire code, and never print the credential.
    const denied = await cli(['keys', 'create', '--tenant', 'other', '--scopes', 'runs:read'], env);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/^error: forbidden: /);
    expect(denied.stderr).not.toContain(admin);

    // The audit log recorded the whole lifecycle, offline and online, as one valid chain.
    const audit = await req(host.url, 'GET', '/v1/audit/verify?fromSeq=0&toSeq=1000', admin);
    expect(audit.body).toMatchObject({ chainValid: true, anomalies: [] });
    const actions = (await host.store.readAuditEntries(0, 1000, 1000)).map((e) => e.action);
    expect(actions).toEqual(['key.created', 'key.created', 'key.rotated', 'key.revoked']);
  });
});
