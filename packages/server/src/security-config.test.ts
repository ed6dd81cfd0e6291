import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

const FP = 'AB:'.repeat(31) + 'AB';
const ISSUER = { issuer: 'https://idp.example', audience: 'weft', tenantClaim: 'tid', scopeMap: { 'weft.runs': ['runs:create'] } };

describe('security configuration', () => {
  it('defaults: in-flight cap on, rate limits, JWT and TLS off', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ maxInFlight: 2048, maxSseStreams: 10_000, oidcIssuers: [], mtlsRequired: false, mtlsSubjectMapping: 'cn' });
    expect(c.rateLimit).toBeUndefined();
    expect(c.tlsCert).toBeUndefined();
  });

  it('reads WEFT_OPERATOR_KEY (off by default) and refuses a short one without echoing it', () => {
    expect(loadConfig({}).operatorKey).toBeUndefined();
    const key = 'operator-key-0123456789abcdef-0123456789';
    expect(loadConfig({ WEFT_OPERATOR_KEY: ` ${key} ` }).operatorKey).toBe(key);
    expect(() => loadConfig({ WEFT_OPERATOR_KEY: 'too-short-operator' })).toThrow(/WEFT_OPERATOR_KEY must be at least 32 characters$/);
  });

  it('reads every WEFT_* security variable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-cfg-'));
    const subjects = join(dir, 'subjects.json');
    writeFileSync(subjects, JSON.stringify([{ match: 'svc.example', tenant: 'acme' }]));
    const revoked = join(dir, 'revoked.txt');
    writeFileSync(revoked, `# revoked\n${FP}\n`);
    const c = loadConfig({
      WEFT_MAX_IN_FLIGHT: '10',
      WEFT_MAX_SSE_STREAMS: '5',
      WEFT_RATE_LIMIT: '600/60',
      WEFT_OIDC_ISSUERS: JSON.stringify([ISSUER]),
      WEFT_TLS_CERT: '/x/cert.pem',
      WEFT_TLS_KEY: '/x/key.pem',
      WEFT_TLS_CLIENT_CA: '/x/ca.pem',
      WEFT_MTLS_REQUIRED: 'true',
      WEFT_MTLS_SUBJECT_MAPPING: 'san-dns',
      WEFT_MTLS_SUBJECTS: subjects,
      WEFT_MTLS_REVOKED: revoked,
    });
    expect(c).toMatchObject({
      maxInFlight: 10,
      maxSseStreams: 5,
      rateLimit: { limit: 600, windowSec: 60 },
      oidcIssuers: [ISSUER],
      mtlsRequired: true,
      mtlsSubjectMapping: 'san-dns',
      mtlsSubjects: [{ match: 'svc.example', tenant: 'acme' }],
      mtlsRevoked: ['ab'.repeat(32)],
    });
    expect(loadConfig({ WEFT_MTLS_REVOKED: `${FP}, ${'cd'.repeat(32)}` }).mtlsRevoked).toEqual(['ab'.repeat(32), 'cd'.repeat(32)]);
  });

  it.each([
    [{ WEFT_TLS_CERT: '/c.pem' }, /together/],
    [{ WEFT_TLS_CLIENT_CA: '/ca.pem', WEFT_MTLS_SUBJECTS: '[{"match":"a","tenant":"t"}]' }, /HTTPS/],
    [{ WEFT_MTLS_REQUIRED: 'true' }, /WEFT_TLS_CLIENT_CA/],
    [{ WEFT_TLS_CERT: '/c', WEFT_TLS_KEY: '/k', WEFT_TLS_CLIENT_CA: '/ca' }, /WEFT_MTLS_SUBJECTS/],
    [{ WEFT_MTLS_REQUIRED: 'yes' }, /true or false/],
    [{ WEFT_MTLS_SUBJECT_MAPPING: 'email' }, /cn, san-dns or san-uri/],
    [{ WEFT_MTLS_SUBJECTS: '[{"match":' }, /not valid JSON/],
    [{ WEFT_OIDC_ISSUERS: JSON.stringify([{ ...ISSUER, algorithms: ['HS256'] }]) }, /symmetric/],
    [{ WEFT_OIDC_ISSUERS: '/no/such/file.json' }, /inline JSON or the path/],
    [{ WEFT_RATE_LIMIT: 'lots' }, /WEFT_RATE_LIMIT/],
    [{ WEFT_MAX_IN_FLIGHT: '0' }, /WEFT_MAX_IN_FLIGHT/],
    [{ WEFT_MTLS_REVOKED: 'zz' }, /fingerprint/],
  ] as [Record<string, string>, RegExp][])('refuses inconsistent settings (%j)', (env, msg) => {
    expect(() => loadConfig(env)).toThrow(msg);
  });
});
