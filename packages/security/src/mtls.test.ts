import { describe, expect, it } from 'vitest';
import { MtlsMapper, normalizeFingerprint, parseSubjectAltNames, parseSubjectRules, type PeerInfo } from './mtls.js';

const FP = 'AB:'.repeat(31) + 'AB';
const DAY = 86_400_000;
const NOW = Date.parse('2026-06-01T00:00:00Z');
const fmt = (ms: number): string =>
  new Date(ms)
    .toUTCString()
    .replace(/^\w+, (\d+) (\w+) (\d+) (.*)$/, '$2 $1 $4 $3')
    .replace(/ GMT (\d+)$/, ' $1 GMT');

const peer = (over: Partial<NonNullable<PeerInfo['cert']>> = {}, authorized = true): PeerInfo => ({
  authorized,
  cert: {
    subject: { CN: 'client-a' },
    subjectaltname: 'DNS:client-a.test, URI:spiffe://weft.test/client-a',
    valid_from: fmt(NOW - DAY),
    valid_to: fmt(NOW + DAY),
    fingerprint256: FP,
    ...over,
  },
});

const mapper = (mapping: 'cn' | 'san-dns' | 'san-uri' = 'cn', revoked: string[] = []): MtlsMapper =>
  new MtlsMapper({
    subjectMapping: mapping,
    subjects: [
      { match: mapping === 'cn' ? 'client-a' : mapping === 'san-dns' ? 'CLIENT-A.test' : 'spiffe://weft.test/client-a', tenant: 'acme', scopes: ['runs:read'] },
      { match: 'client-b', tenant: 'other' },
    ],
    revokedFingerprints: revoked,
    now: () => NOW,
  });

describe('MtlsMapper', () => {
  it('test helper formats dates the way Node prints them', () => {
    expect(Date.parse(fmt(NOW))).toBe(NOW);
  });

  it.each(['cn', 'san-dns', 'san-uri'] as const)('maps the %s subject to its tenant and records only the fingerprint', (mapping) => {
    const id = mapper(mapping).identify(peer());
    expect(id).toMatchObject({ kind: 'mtls', tenant: 'acme', fingerprint: 'ab'.repeat(32) });
    expect(id.principal).toMatch(/^mtls:[0-9a-f]{16}$/);
    expect([...(id.scopes ?? [])]).toEqual(['runs:read']);
    expect(JSON.stringify(id)).not.toContain('client-a');
  });

  it.each([
    ['no certificate', { authorized: false, cert: undefined } as PeerInfo],
    ['an empty certificate object', { authorized: false, cert: {} } as PeerInfo],
    ['an untrusted chain', peer({}, false)],
    ['an expired certificate', peer({ valid_from: fmt(NOW - 3 * DAY), valid_to: fmt(NOW - DAY) })],
    ['a not yet valid certificate', peer({ valid_from: fmt(NOW + DAY), valid_to: fmt(NOW + 3 * DAY) })],
    ['an unmapped subject', peer({ subject: { CN: 'stranger' } })],
    ['two subjects of different rules', peer({ subject: { CN: ['client-a', 'client-b'] } })],
  ])('refuses %s with 401 unauthenticated', (_what, p) => {
    expect(() => mapper().identify(p)).toThrowError(expect.objectContaining({ code: 'unauthenticated', message: 'A valid client certificate is required.' }));
  });

  it('refuses a revoked fingerprint, whatever its spelling', () => {
    expect(() => mapper('cn', ['ab'.repeat(32)]).identify(peer())).toThrowError(expect.objectContaining({ code: 'unauthenticated' }));
    expect(() => mapper('cn', [FP.toLowerCase()]).identify(peer())).toThrowError(expect.objectContaining({ code: 'unauthenticated' }));
  });

  it('parses subjectAltName strings, including quoted values', () => {
    expect(parseSubjectAltNames('DNS:a.test, URI:spiffe://x/y, IP Address:127.0.0.1')).toEqual([
      { type: 'DNS', value: 'a.test' },
      { type: 'URI', value: 'spiffe://x/y' },
      { type: 'IP Address', value: '127.0.0.1' },
    ]);
    expect(parseSubjectAltNames('DNS:"a, b", DNS:c')).toEqual([
      { type: 'DNS', value: 'a, b' },
      { type: 'DNS', value: 'c' },
    ]);
    expect(parseSubjectAltNames(undefined)).toEqual([]);
  });

  it('validates the subject table and fingerprints', () => {
    expect(parseSubjectRules([{ match: 'x', tenant: 't1', scopes: ['runs:read'] }])).toEqual([{ match: 'x', tenant: 't1', scopes: ['runs:read'] }]);
    expect(() => parseSubjectRules({})).toThrow(/array/);
    expect(() => parseSubjectRules([{ match: 'x', tenant: 'bad tenant' }])).toThrow(/tenant/);
    expect(() => parseSubjectRules([{ match: 'x', tenant: 't', scopes: ['root'] }])).toThrow(/scopes/);
    expect(() => parseSubjectRules([{ match: 'x', tenant: 't', extra: 1 }])).toThrow(/unknown field/);
    expect(() => normalizeFingerprint('abc')).toThrow(/SHA-256/);
  });
});
