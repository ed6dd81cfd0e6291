/**
 * OAuth2 client-credentials / OIDC user-bearer profiles: a host trusting a local JWKS issuer on
 * loopback, probed with the full JWT negative matrix of security-contract.md §9 test 17.
 */
import { TEST_KEYS, startJwksIssuer, startTestHost, type JwksIssuer, type TestHost } from '@weft/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkContract } from '../contract-check.js';
import { call, target } from '../harness.js';
import { LineCapture, OWN_HOSTS, callAt, headerValues } from '../own-host.js';

const AUD = 'https://weft.test/api';
const CANARY = 'CANARY-openwop-CONFORMANCE-NEVER-SECRET';
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

let idp: JwksIssuer;
let idpDown: JwksIssuer;
let host: TestHost;
let ecKid: string;
const logs = new LineCapture();
/** Every token presented in this file, for the final log scan. */
const presented: string[] = [];

beforeAll(async () => {
  if (!OWN_HOSTS) return;
  idp = await startJwksIssuer();
  ecKid = await idp.addKey('ES256');
  idpDown = await startJwksIssuer();
  idpDown.setDown(true);
  host = await startTestHost({
    store: 'memory',
    logDestination: logs,
    config: {
      logLevel: 'trace',
      oidcIssuers: [
        {
          issuer: idp.issuer,
          audience: AUD,
          tenantClaim: 'tid',
          scopeMap: { 'weft.runs': ['runs:create', 'runs:read'], 'weft.read': ['runs:read'] },
          algorithms: ['RS256', 'ES256'],
          // Refetch on every unknown kid, so "published later" needs no waiting.
          jwksCooldownSec: 0,
        },
        { issuer: idpDown.issuer, audience: AUD, tenant: 'down-tenant', scopeMap: { 'weft.runs': ['runs:create'] } },
      ],
    },
  });
});

afterAll(async () => {
  await host?.stop();
  await idp?.close();
  await idpDown?.close();
});

const post = async (token: string, body: Record<string, unknown> = { workflowId: 'conformance-noop' }): Promise<Awaited<ReturnType<typeof callAt>>> => {
  presented.push(token);
  return callAt(host.url, 'POST', '/v1/runs', { bearer: token, body });
};

const good = (over: Parameters<JwksIssuer['mint']>[0] = {}): Promise<string> =>
  idp.mint({ sub: 'user-1@example.com', aud: AUD, scope: 'weft.runs', claims: { tid: 'jwt-tenant' }, ...over });

/** The negative matrix: each builds a token that must be refused with 401. */
const MATRIX: [string, () => Promise<string>][] = [
  ['alg:none (unsigned)', async () => idp.mintUnsigned({ sub: 's', aud: AUD, scope: 'weft.runs', claims: { tid: 'jwt-tenant' } })],
  [
    'HS256 signed with the RSA public key (algorithm confusion)',
    async () => idp.mintHs256WithPublicKey([...(await idpKids())][0] as string, { sub: 's', aud: AUD, scope: 'weft.runs', claims: { tid: 'jwt-tenant' } }),
  ],
  ['an unknown kid', async () => good({ headerKid: 'kid-nobody-published' })],
  [
    'a key that was never published',
    async () => idp.mint({ kid: await idp.addKey('RS256', { publish: false }), sub: 's', aud: AUD, scope: 'weft.runs', claims: { tid: 'jwt-tenant' } }),
  ],
  ['a bad signature', async () => idp.tamperSignature(await good())],
  [
    'an ES256 key behind an RS256 header (alg/kty mismatch)',
    async () => {
      const t = await idp.mint({ kid: ecKid, sub: 's', aud: AUD, scope: 'weft.runs', claims: { tid: 'jwt-tenant' } });
      const [, p, s] = t.split('.');
      return `${b64({ alg: 'RS256', kid: ecKid, typ: 'JWT' })}.${p}.${s}`;
    },
  ],
  ['a wrong iss', async () => good({ iss: 'https://evil.example' })],
  ['an iss differing only by a trailing slash', async () => good({ iss: `${idp.issuer}/` })],
  ['a wrong aud', async () => good({ aud: 'https://other.example/api' })],
  ['no aud', async () => good({ aud: undefined })],
  ['an expired token (beyond the 60 s skew)', async () => good({ expIn: -120, iatIn: -600 })],
  ['a future nbf (beyond the 60 s skew)', async () => good({ nbfIn: 600 })],
  ['a missing iat', async () => good({ iatIn: null })],
  ['a future iat', async () => good({ iatIn: 600 })],
  ['a missing exp', async () => good({ expIn: null })],
  ['a missing sub', async () => idp.mint({ aud: AUD, scope: 'weft.runs', claims: { tid: 'jwt-tenant' } })],
  ['a missing tenant claim', async () => idp.mint({ sub: 's', aud: AUD, scope: 'weft.runs' })],
  ['a malformed payload', async () => `${b64({ alg: 'RS256', kid: 'x', typ: 'JWT' })}.${Buffer.from('not json').toString('base64url')}.c2ln`],
  ['a header with alg but two segments only', async () => `${b64({ alg: 'RS256' })}.${b64({ sub: 's' })}`],
];

/** Kids the issuer publishes (read from its JWKS like any client would). */
async function idpKids(): Promise<string[]> {
  const r = await fetch(idp.jwksUri);
  const doc = (await r.json()) as { keys: { kid: string; kty: string }[] };
  return doc.keys.filter((k) => k.kty === 'RSA').map((k) => k.kid);
}

describe.runIf(OWN_HOSTS)('auth profile: OAuth2 client credentials / OIDC user bearer (JWT)', () => {
  it('invariant: auth-profiles-honest — discovery advertises exactly the configured JWT profiles, schema-valid', async () => {
    const r = await callAt(host.url, 'GET', '/.well-known/openwop');
    expect(r.status).toBe(200);
    checkContract('capabilities', r.body);
    const auth = (r.body as { auth: Record<string, unknown> & { profiles: string[] } }).auth;
    expect(auth.profiles).toEqual(expect.arrayContaining(['openwop-auth-oauth2-client-credentials', 'openwop-auth-oidc-user-bearer']));
    expect(auth.profiles).not.toContain('openwop-auth-mtls');
    expect(auth.oauth2).toEqual({ supported: true, issuer: idp.issuer, audience: AUD, supportedAlgorithms: ['RS256', 'ES256', 'EdDSA'] });
    expect(auth.oidc).toMatchObject({ supported: true, issuers: [idp.issuer, idpDown.issuer], audience: AUD, supportedScopeMapping: 'scope-claim' });
    expect(Number.isInteger((auth.oidc as { introspectionIntervalSeconds: number }).introspectionIntervalSeconds)).toBe(true);
    expect(r.text).not.toContain('jwt-tenant');
  });

  it.each(MATRIX)('invariant: jwt-negative-matrix — %s answers 401 unauthenticated without echoing the token', async (_what, make) => {
    const token = await make();
    const r = await post(token);
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ error: 'unauthenticated' });
    for (const part of [token, ...token.split('.').filter((s) => s.length > 8)]) {
      expect(r.text).not.toContain(part);
      for (const h of headerValues(r.headers)) expect(h).not.toContain(part);
    }
  });

  it('invariant: jwt-negative-matrix — every refusal carries the same fixed message (no reason oracle)', async () => {
    const bodies = new Set<string>();
    for (const [, make] of MATRIX.slice(0, 8)) bodies.add((await post(await make())).text);
    expect(bodies.size).toBe(1);
  });

  it('invariant: jwt-scope-mapping — a valid RS256 token creates a run in the tenant its claims map to', async () => {
    const token = await good();
    const r = await post(token);
    expect(r.status).toBe(201);
    const runId = (r.body as { runId: string }).runId;
    const snap = await callAt<{ owner: { tenant: string; principal: string } }>(host.url, 'GET', `/v1/runs/${runId}`, { bearer: token });
    expect(snap.status).toBe(200);
    expect(snap.body.owner.tenant).toBe('jwt-tenant');
    expect(snap.body.owner.principal).toMatch(/^jwt:[0-9a-f]{16}$/);
    expect(snap.text).not.toContain('user-1@example.com');
  });

  it('invariant: jwt-scope-mapping — a valid ES256 token is accepted too', async () => {
    const r = await post(await good({ kid: ecKid }));
    expect(r.status).toBe(201);
  });

  it('invariant: tenant-from-credential — a body tenantId never changes the tenant a JWT maps to', async () => {
    const token = await good();
    const r = await post(token, { workflowId: 'conformance-noop', tenantId: 'tenant-a' });
    expect(r.status).toBe(201);
    const runId = (r.body as { runId: string }).runId;
    const mine = await callAt<{ owner: { tenant: string } }>(host.url, 'GET', `/v1/runs/${runId}`, { bearer: token });
    expect(mine.body.owner.tenant).toBe('jwt-tenant');
    // tenant-a's API key sees nothing: the run is not in tenant-a.
    const foreign = await callAt(host.url, 'GET', `/v1/runs/${runId}`, { bearer: TEST_KEYS.tenantA });
    expect(foreign.status).toBe(404);
  });

  it('invariant: jwt-scope-mapping — a valid token lacking the route scope gets 403 forbidden naming it', async () => {
    const readOnly = await good({ scope: 'weft.read openid' });
    const r = await post(readOnly);
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ error: 'forbidden', details: { scopeRequired: 'runs:create' } });
    expect((await callAt(host.url, 'GET', '/v1/runs', { bearer: readOnly })).status).toBe(200);
  });

  it('invariant: jwt-scope-mapping — IdP scopes without a mapping grant nothing (403, not 401)', async () => {
    const t = await good({ scope: 'openid profile runs:create runs:read' });
    const r = await callAt(host.url, 'GET', '/v1/runs', { bearer: t });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ error: 'forbidden', details: { scopeRequired: 'runs:read' } });
  });

  it('invariant: jwks-refresh-on-unknown-kid — a key published after the JWKS was cached is picked up on the next token', async () => {
    expect((await post(await good())).status).toBe(201); // JWKS cached
    const kid = await idp.addKey('RS256', { publish: false });
    const token = await idp.mint({ kid, sub: 'rotated', aud: AUD, scope: 'weft.runs', claims: { tid: 'jwt-tenant' } });
    expect((await post(token)).status).toBe(401);
    idp.publish(kid);
    const fetches = idp.jwksFetches;
    expect((await post(token)).status).toBe(201);
    expect(idp.jwksFetches).toBe(fetches + 1);
  });

  it('invariant: jwks-unavailable-503 — an unreachable JWKS answers 503 service_unavailable with Retry-After, never 401 or 2xx', async () => {
    const token = await idpDown.mint({ sub: 's', aud: AUD, scope: 'weft.runs' });
    const r = await post(token);
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ error: 'service_unavailable', details: { retryAfter: 5 } });
    expect(r.headers.get('retry-after')).toBe('5');
    expect(r.text).not.toContain(token);
  });

  it('keeps API keys working beside JWT issuers', async () => {
    const r = await callAt(host.url, 'POST', '/v1/runs', { bearer: TEST_KEYS.tenantA, body: { workflowId: 'conformance-noop' } });
    expect(r.status).toBe(201);
  });

  it('invariant: secret-leakage-auth-middleware — JWT-shaped canary bearers are refused without echo in body or headers', async () => {
    const canaries = [
      `${b64({ alg: 'RS256', kid: CANARY })}.${b64({ iss: idp.issuer, sub: CANARY, aud: AUD })}.${Buffer.from(CANARY).toString('base64url')}`,
      `${b64({ alg: 'none' })}.${b64({ iss: CANARY })}.`,
      await good({ sub: CANARY, headerKid: CANARY }),
      idp.tamperSignature(await good({ sub: CANARY, claims: { tid: 'jwt-tenant', note: CANARY } })),
    ];
    for (const token of canaries) {
      for (const [method, path] of [
        ['POST', '/v1/runs'],
        ['GET', '/v1/runs/run_nope'],
        ['GET', '/v1/runs/run_nope/events'],
      ] as const) {
        presented.push(token);
        const r = await callAt(host.url, method, path, { bearer: token, ...(method === 'POST' ? { body: { workflowId: 'conformance-noop' } } : {}) });
        expect(r.status).toBe(401);
        expect(r.text).not.toContain(CANARY);
        expect(r.text).not.toContain(token);
        for (const h of headerValues(r.headers)) expect(h).not.toContain(CANARY);
      }
    }
  });

  it('invariant: no-secret-in-logs — no presented token, claim canary or key reaches the log (trace level)', () => {
    expect(presented.length).toBeGreaterThan(MATRIX.length);
    const text = logs.text;
    expect(text.length).toBeGreaterThan(0);
    expect(text).toContain('bearer token refused');
    expect(text).not.toContain(CANARY);
    expect(text).not.toContain(TEST_KEYS.tenantA);
    expect(text).not.toContain('user-1@example.com');
    for (const t of presented) for (const part of t.split('.').filter((s) => s.length > 8)) expect(text).not.toContain(part);
  });
});

describe('auth profile: discovery without JWT issuers', () => {
  it.runIf(target.inProcess)('invariant: auth-profiles-honest — OAuth2/OIDC and mTLS are not advertised when none is configured', async () => {
    const r = await call('GET', '/.well-known/openwop', { key: null });
    const profiles = (r.body as { auth?: { profiles?: string[] } }).auth?.profiles ?? [];
    expect(profiles).not.toContain('openwop-auth-oauth2-client-credentials');
    expect(profiles).not.toContain('openwop-auth-oidc-user-bearer');
    expect(profiles).not.toContain('openwop-auth-mtls');
  });
});
