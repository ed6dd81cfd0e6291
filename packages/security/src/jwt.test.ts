import { startJwksIssuer, type JwksIssuer } from '@weft/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwtVerifier, looksLikeJwt, normalizeIssuer, parseJwtIssuers, type JwtIssuerConfig, type JwtRejectReason } from './jwt.js';

let idp: JwksIssuer;
const AUD = 'https://weft.test/api';

beforeAll(async () => {
  idp = await startJwksIssuer();
});
afterAll(async () => {
  await idp.close();
});

const issuerCfg = (over: Partial<JwtIssuerConfig> = {}): JwtIssuerConfig => ({
  issuer: idp.issuer,
  audience: AUD,
  tenantClaim: 'tid',
  scopeMap: { 'weft.runs': ['runs:create', 'runs:read'], 'weft.read': ['runs:read'] },
  jwksCooldownSec: 0,
  ...over,
});

const verifier = (over: Partial<JwtIssuerConfig> = {}): { v: JwtVerifier; reasons: JwtRejectReason[] } => {
  const reasons: JwtRejectReason[] = [];
  return { v: new JwtVerifier([issuerCfg(over)], { onReject: (r) => reasons.push(r) }), reasons };
};

describe('JwtVerifier', () => {
  it('maps a valid token to tenant, a hashed principal and only mapped scopes', async () => {
    const { v } = verifier();
    const p = await v.verify(await idp.mint({ sub: 'alice@example.com', aud: AUD, scope: 'weft.runs openid profile', claims: { tid: 'acme' } }));
    expect(p.kind).toBe('jwt');
    expect(p.tenant).toBe('acme');
    expect(p.principal).toMatch(/^jwt:[0-9a-f]{16}$/);
    expect(p.principal).not.toContain('alice');
    expect([...p.scopes].sort()).toEqual(['runs:create', 'runs:read']);
  });

  it('reads scp arrays and a fixed tenant', async () => {
    const { v } = verifier({ scopeClaim: 'scp', tenant: 'fixed', tenantClaim: undefined });
    const p = await v.verify(await idp.mint({ sub: 's', aud: [AUD, 'other'], scp: ['weft.read', 'unmapped'], claims: { tid: 'ignored' } }));
    expect(p.tenant).toBe('fixed');
    expect([...p.scopes]).toEqual(['runs:read']);
  });

  it('refuses a tenant claim outside allowedTenants or outside the tenant grammar', async () => {
    const { v, reasons } = verifier({ allowedTenants: ['acme'] });
    await expect(v.verify(await idp.mint({ sub: 's', aud: AUD, claims: { tid: 'evil' } }))).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(v.verify(await idp.mint({ sub: 's', aud: AUD, claims: { tid: 'has space' } }))).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(v.verify(await idp.mint({ aud: AUD, claims: { tid: 'acme' } }))).rejects.toMatchObject({ code: 'unauthenticated' });
    expect(reasons).toEqual(['bad_tenant', 'bad_tenant', 'no_principal']);
  });

  it('caches the JWKS: many tokens, one fetch', async () => {
    const { v } = verifier();
    const before = idp.jwksFetches;
    for (let i = 0; i < 5; i++) await v.verify(await idp.mint({ sub: `u${i}`, aud: AUD, claims: { tid: 'acme' } }));
    expect(idp.jwksFetches - before).toBe(1);
  });

  it('answers 503 service_unavailable (not 401) when the JWKS cannot be fetched', async () => {
    const { v, reasons } = verifier();
    idp.setDown(true);
    try {
      const token = await idp.mint({ sub: 's', aud: AUD, claims: { tid: 'acme' } });
      await expect(v.verify(token)).rejects.toMatchObject({
        code: 'service_unavailable',
        status: 503,
        details: { retryAfter: 5 },
        headers: { 'retry-after': '5' },
      });
      expect(reasons).toEqual(['jwks_unavailable']);
    } finally {
      idp.setDown(false);
    }
  });

  it('routes only JWT-shaped bearers to the verifier', async () => {
    expect(looksLikeJwt(await idp.mint({ sub: 's' }))).toBe(true);
    expect(looksLikeJwt(idp.mintUnsigned({ sub: 's' }))).toBe(true);
    expect(looksLikeJwt('test-tenant-a-key-0123456789abcdef')).toBe(false);
    expect(looksLikeJwt('a.b.c')).toBe(false);
    expect(looksLikeJwt(`${Buffer.from('{"x":1}').toString('base64url')}.e30.sig`)).toBe(false);
  });

  it('validates issuer configuration: asymmetric algorithms only, https, one tenant source, known scopes', () => {
    const base = { issuer: 'https://idp.example', audience: 'a', tenant: 't', scopeMap: {} };
    expect(normalizeIssuer(base)).toEqual(base);
    expect(() => normalizeIssuer({ ...base, algorithms: ['HS256'] })).toThrow(/symmetric/);
    expect(() => normalizeIssuer({ ...base, algorithms: ['none'] })).toThrow(/algorithms/);
    expect(() => normalizeIssuer({ ...base, issuer: 'http://idp.example' })).toThrow(/https/);
    expect(() => normalizeIssuer({ ...base, tenantClaim: 'tid' })).toThrow(/exactly one/);
    expect(() => normalizeIssuer({ ...base, scopeMap: { x: ['root'] } })).toThrow(/Weft scopes/);
    expect(() => normalizeIssuer({ ...base, audience: '' })).toThrow(/audience/);
    expect(() => normalizeIssuer({ ...base, surprise: 1 })).toThrow(/unknown field/);
    expect(() => parseJwtIssuers('{')).toThrow(/JSON array/);
    expect(() => parseJwtIssuers(JSON.stringify([base, base]))).toThrow(/twice/);
    expect(parseJwtIssuers(JSON.stringify([base]))).toEqual([base]);
  });
});
