/**
 * `openwop-auth-mtls`: hosts serving HTTPS with client-certificate verification against a CA
 * generated here, probed with valid, missing, expired, not-yet-valid, untrusted-CA, revoked
 * and unmapped certificates. The certificate is a transport principal: a bearer is still
 * required, and it must belong to the certificate's tenant (AUTH-60).
 */
import { TEST_KEYS, createTestPki, httpsCall, startTestHost, type CertFiles, type HttpsResult, type TestHost, type TestPki } from '@weft/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertErrorEnvelope } from '../harness.js';
import { checkContract } from '../contract-check.js';
import { LineCapture, OWN_HOSTS } from '../own-host.js';

let pki: TestPki;
let required: TestHost;
let optional: TestHost;
const logs = new LineCapture();
const certs: Record<'a' | 'b' | 'expired' | 'notYet' | 'untrusted' | 'revoked' | 'unmapped', CertFiles> = {} as never;

beforeAll(async () => {
  if (!OWN_HOSTS) return;
  pki = createTestPki();
  certs.a = pki.issueClient('client-a', { cn: 'client-a', dns: ['client-a.test'] });
  certs.b = pki.issueClient('client-b', { cn: 'client-b' });
  certs.expired = pki.issueClient('expired', { cn: 'client-a', expired: true });
  certs.notYet = pki.issueClient('not-yet', { cn: 'client-a', notYetValid: true });
  certs.untrusted = pki.issueClient('untrusted', { cn: 'client-a', untrusted: true });
  certs.revoked = pki.issueClient('revoked', { cn: 'client-a' });
  certs.unmapped = pki.issueClient('unmapped', { cn: 'stranger' });
  const tls = {
    tlsCert: pki.server.cert,
    tlsKey: pki.server.key,
    tlsClientCa: pki.ca.cert,
    mtlsSubjectMapping: 'cn' as const,
    mtlsSubjects: [
      { match: 'client-a', tenant: 'tenant-a' },
      { match: 'client-b', tenant: 'tenant-b', scopes: ['runs:read'] },
    ],
    mtlsRevoked: [certs.revoked.fingerprint256],
  };
  required = await startTestHost({ store: 'memory', logDestination: logs, config: { ...tls, mtlsRequired: true, logLevel: 'trace' } });
  optional = await startTestHost({ store: 'memory', config: { ...tls, mtlsRequired: false } });
});

afterAll(async () => {
  await required?.stop();
  await optional?.stop();
  pki?.cleanup();
});

const send = async (host: TestHost, cert: CertFiles | undefined, method: string, path: string, bearer?: string, body?: unknown): Promise<HttpsResult> => {
  const r = await httpsCall(`${host.url}${path}`, {
    method,
    ca: pki.ca.certPem,
    ...(cert ? { client: cert } : {}),
    ...(bearer ? { headers: { authorization: `Bearer ${bearer}` } } : {}),
    ...(body === undefined ? {} : { body }),
  });
  if (r.status >= 400) assertErrorEnvelope(r.body);
  return r;
};
const createRun = (host: TestHost, cert: CertFiles | undefined, bearer: string = TEST_KEYS.tenantA): Promise<HttpsResult> =>
  send(host, cert, 'POST', '/v1/runs', bearer, { workflowId: 'conformance-noop', tenantId: 'tenant-b' });

describe.runIf(OWN_HOSTS)('auth profile: mTLS (required)', () => {
  it('invariant: auth-profiles-honest — serves HTTPS and advertises openwop-auth-mtls with required: true, schema-valid', async () => {
    expect(required.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const r = await send(required, certs.a, 'GET', '/.well-known/openwop');
    expect(r.status).toBe(200);
    checkContract('capabilities', r.body);
    const auth = (r.body as { auth: { profiles: string[]; mtls: unknown } }).auth;
    expect(auth.profiles).toContain('openwop-auth-mtls');
    expect(auth.profiles).not.toContain('openwop-auth-oidc-user-bearer');
    expect(auth.mtls).toEqual({ supported: true, required: true, subjectMapping: 'cn' });
  });

  it('invariant: mtls-client-cert-verified — a valid certificate plus a bearer of its tenant creates a run owned by that tenant', async () => {
    const r = await createRun(required, certs.a);
    expect(r.status).toBe(201);
    const runId = (r.body as { runId: string }).runId;
    const snap = await send(required, certs.a, 'GET', `/v1/runs/${runId}`, TEST_KEYS.tenantA);
    expect(snap.status).toBe(200);
    expect((snap.body as { owner: { tenant: string } }).owner.tenant).toBe('tenant-a');
  });

  it.each([
    ['no certificate', undefined],
    ['an expired certificate', 'expired'],
    ['a certificate that is not valid yet', 'notYet'],
    ['a certificate from an untrusted CA', 'untrusted'],
    ['a revoked certificate', 'revoked'],
    ['a certificate whose subject maps to no tenant', 'unmapped'],
  ] as const)('invariant: mtls-client-cert-verified — %s is refused with 401 unauthenticated', async (_what, which) => {
    const cert = which === undefined ? undefined : certs[which];
    const r = await createRun(required, cert);
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ error: 'unauthenticated' });
    // With mTLS required, even public routes (discovery) sit behind the certificate.
    expect((await send(required, cert, 'GET', '/.well-known/openwop')).status).toBe(401);
  });

  it('invariant: mtls-bearer-still-required — a valid certificate without a bearer is 401', async () => {
    const r = await send(required, certs.a, 'GET', '/v1/runs');
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ error: 'unauthenticated' });
  });

  it("invariant: mtls-bearer-still-required — a bearer of another tenant than the certificate's is 401", async () => {
    expect((await createRun(required, certs.a, TEST_KEYS.tenantB)).status).toBe(401);
    expect((await createRun(required, certs.b, TEST_KEYS.tenantA)).status).toBe(401);
  });

  it('invariant: mtls-bearer-still-required — route scopes still apply, capped by the subject rule', async () => {
    const readOnly = await createRun(required, certs.a, TEST_KEYS.readOnly);
    expect(readOnly.status).toBe(403);
    expect(readOnly.body).toMatchObject({ error: 'forbidden', details: { scopeRequired: 'runs:create' } });
    // client-b's rule grants at most runs:read, whatever the bearer holds.
    const capped = await createRun(required, certs.b, TEST_KEYS.tenantB);
    expect(capped.status).toBe(403);
    expect((await send(required, certs.b, 'GET', '/v1/runs', TEST_KEYS.tenantB)).status).toBe(200);
  });

  it('invariant: mtls-fingerprint-only — refusals and logs carry no certificate detail, only the fingerprint', async () => {
    const r = await createRun(required, certs.revoked);
    expect(r.status).toBe(401);
    const pemBody = (c: CertFiles): string[] => c.certPem.split('\n').filter((l) => l.length > 40);
    const text = logs.text;
    expect(text).toContain('client certificate refused');
    expect(text).toContain(certs.revoked.fingerprint256.replace(/:/g, '').toLowerCase());
    for (const c of Object.values(certs)) {
      for (const line of [...pemBody(c), ...c.keyPem.split('\n').filter((l) => l.length > 40)]) {
        expect(text).not.toContain(line);
        expect(r.text).not.toContain(line);
      }
    }
    expect(text).not.toContain('client-a');
    expect(text).not.toContain('stranger');
    expect(text).not.toContain(TEST_KEYS.tenantA);
    expect(r.text).not.toContain('client-a');
  });
});

describe.runIf(OWN_HOSTS)('auth profile: mTLS (optional)', () => {
  it('invariant: auth-profiles-honest — advertises required: false and accepts bearer-only requests', async () => {
    const d = await send(optional, undefined, 'GET', '/.well-known/openwop');
    expect((d.body as { auth: { mtls: unknown } }).auth.mtls).toEqual({ supported: true, required: false, subjectMapping: 'cn' });
    expect((await createRun(optional, undefined)).status).toBe(201);
  });

  it('invariant: mtls-client-cert-verified — a presented but bad certificate fails closed even when mTLS is optional', async () => {
    for (const c of [certs.expired, certs.untrusted, certs.revoked, certs.unmapped]) expect((await createRun(optional, c)).status).toBe(401);
    expect((await createRun(optional, certs.a)).status).toBe(201);
  });

  it("invariant: mtls-bearer-still-required — a presented certificate still binds the bearer's tenant", async () => {
    expect((await createRun(optional, certs.b, TEST_KEYS.tenantA)).status).toBe(401);
  });
});
