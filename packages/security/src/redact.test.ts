import { describe, expect, it } from 'vitest';
import { REDACTED, Redactor, SECRET_RULES } from './redact.js';

// Secret-shaped values are assembled at runtime so secret scanners do not flag this file.
const j = (...parts: string[]): string => parts.join('');
const b64u = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
const A40 = 'Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0h';

const JWT = `${b64u({ alg: 'HS256', typ: 'JWT' })}.${b64u({ sub: 'user-1', iat: 1_700_000_000 })}.${'sig_'.repeat(8)}`;
const PEM = j('-----BEGIN ', 'PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END ', 'PRIVATE KEY-----');

/** Every shape the host must scrub, by rule id. */
const SHAPES: Record<string, string[]> = {
  'pem-private-key': [
    PEM,
    j('-----BEGIN RSA ', 'PRIVATE KEY-----\nMIIBOgIBAAJBAK', '\n-----END RSA ', 'PRIVATE KEY-----'),
    j('-----BEGIN OPENSSH ', 'PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH ', 'PRIVATE KEY-----'),
  ],
  bearer: [j('Bearer ', 'abc123DEF456ghi789JKL'), j('Bearer  ', 'tok.en-with_9~chars+/==')],
  jwt: [JWT],
  'provider-sk': [j('sk-', A40), j('sk-', 'proj-', A40), j('sk-', 'ant-', 'api03-', A40)],
  stripe: [j('sk_', 'live_', A40.slice(0, 24)), j('rk_', 'test_', A40.slice(0, 24))],
  xai: [j('xai-', A40)],
  'google-api-key': [j('AIza', 'SyD-', A40.slice(0, 31))],
  'aws-access-key-id': [j('AKIA', 'IOSFODNN7EXAMPLE'), j('ASIA', 'Y34FZKBOKMUTVV7A')],
  github: [j('ghp_', A40.slice(0, 36)), j('ghs_', A40), j('github_pat_', '11ABCDEFG0', A40.slice(0, 20))],
  gitlab: [j('glpat-', A40.slice(0, 20))],
  slack: [j('xoxb-', '1234567890-', 'abcdefABCDEF')],
  'weft-key': [j('weft_', '0123456789abcdef01', '_', A40, 'abc'), j('weft_dev_', A40.slice(0, 32))],
};

/** Secret-free strings that look close to a shape and must stay as they are. */
const NEAR_MISSES = [
  'sk-learn',
  'sk-short-key',
  'task-0123456789abcdefghijklmnop',
  'disk-0123456789abcdefghijklmnop',
  'Bearer authentication is required',
  'Bearer tokens-are-explained-here',
  'Bearer 12345',
  b64u({ alg: 'HS256' }),
  `${b64u({ alg: 'HS256' })}.not-a-payload`,
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  'cred_a3b9c2d4e5f60718293a4b5c',
  'secret_a3b9c2',
  'AKIA1234',
  'XAKIAIOSFODNN7EXAMPLEX',
  'ghp_short',
  'xoxb-short',
  'run_4f1c2b9a8e7d6c5b4a3f2e1d0c9b8a7f',
  '123e4567-e89b-12d3-a456-426614174000',
  'https://example.com/path?query=value&other=1',
  '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----',
  '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----',
  'weft_0123_notakey',
  'The quick brown fox jumps over the lazy dog.',
];

describe('redactor: credential shapes', () => {
  const r = new Redactor();

  it('covers every rule with at least one shape', () => {
    expect(Object.keys(SHAPES).sort()).toEqual(SECRET_RULES.map((x) => x.id).sort());
  });

  it.each(Object.entries(SHAPES))('invariant: secret-leakage-eventlog-payload — scrubs %s in text, JSON text and values', (_id, samples) => {
    for (const secret of samples) {
      const text = `before ${secret} after`;
      const red = r.redactText(text);
      expect(red).toBe(`before ${REDACTED} after`);

      const doc = { a: { list: [1, `x ${secret} y`, { [secret]: true }] }, plain: secret, n: 12345678 };
      const json = JSON.stringify(doc);
      const scrubbed = r.redactJson(json);
      const parsed = JSON.parse(scrubbed) as typeof doc;
      expect(scrubbed).not.toContain(secret);
      expect(parsed.plain).toBe(REDACTED);
      expect(parsed.a.list[1]).toBe(`x ${REDACTED} y`);
      expect(parsed.n).toBe(12345678);

      const v = r.redact(doc);
      expect(JSON.stringify(v)).not.toContain(secret);
      expect(v.plain).toBe(REDACTED);
      expect(Object.keys(v.a.list[2] as object)).toEqual([REDACTED]);
    }
  });

  it.each(NEAR_MISSES)('leaves the near-miss %j alone', (s) => {
    expect(r.redactText(s)).toBe(s);
    const json = JSON.stringify({ s });
    expect(r.redactJson(json)).toBe(json);
  });

  it('keeps JSON valid when a PEM block without END is followed by escaped quotes and backslashes', () => {
    const open = j('-----BEGIN EC ', 'PRIVATE KEY-----\nMHcCAQEEIBv');
    for (const tail of ['"quoted" rest', '\\"', '\\', 'a\\\\"b', '']) {
      const json = JSON.stringify({ k: `${open}${tail}`, next: 'kept' });
      const out = r.redactJson(json);
      const parsed = JSON.parse(out) as { k: string; next: string };
      expect(parsed.k.startsWith(REDACTED)).toBe(true);
      expect(parsed.k).not.toContain('MHcCAQEE');
      expect(parsed.next).toBe('kept');
    }
  });

  it('returns the very same string and value when nothing matches (no copy)', () => {
    const doc = { inputs: { greeting: 'hello', nested: [{ a: 'b'.repeat(100) }] }, n: 1 };
    expect(r.redact(doc)).toBe(doc);
    const json = JSON.stringify(doc);
    expect(r.redactJson(json)).toBe(json);
    expect(r.redactText('short')).toBe('short');
  });

  it('copies only the changed path', () => {
    const clean = { x: 'clean value here' };
    const doc = { clean, dirty: { token: j('sk-', A40) }, list: [clean] };
    const out = r.redact(doc);
    expect(out).not.toBe(doc);
    expect(out.clean).toBe(clean);
    expect(out.list).toBe(doc.list);
    expect(out.dirty).toEqual({ token: REDACTED });
    expect(doc.dirty.token).toBe(j('sk-', A40));
  });
});

describe('redactor: known secret values', () => {
  it('scrubs registered values in plain and JSON-escaped form, with an id marker when given', () => {
    const host = new Redactor();
    const tricky = 'pa"ss\\word\nwith-newline';
    host.addSecret(tricky);
    host.addSecret('my-db-password-42', 'secret_db');
    const json = JSON.stringify({ a: `x${tricky}y`, b: 'conn=my-db-password-42;' });
    const parsed = JSON.parse(host.redactJson(json)) as { a: string; b: string };
    expect(parsed).toEqual({ a: `x${REDACTED}y`, b: 'conn=[REDACTED:secret_db];' });
    expect(host.redactText(`log ${tricky}`)).toBe(`log ${REDACTED}`);
    expect(() => host.addSecret('another-secret-value', 'bad id!')).toThrow();
  });

  it('derived redactors add run secrets and see values registered on the host later', () => {
    const host = new Redactor();
    const run = host.withSecrets(['run-sensitive-value-1', 'tiny']);
    expect(run.redactText('a run-sensitive-value-1 b')).toBe(`a ${REDACTED} b`);
    // Too short to scrub by value (it is masked by name where declared).
    expect(run.redactText('a tiny value stays')).toBe('a tiny value stays');
    expect(host.redactText('run-sensitive-value-1')).toBe('run-sensitive-value-1');
    host.addSecret('host-configured-key-0123');
    expect(run.redactText('k=host-configured-key-0123')).toBe(`k=${REDACTED}`);
  });

  it('never breaks JSON when a known value also occurs outside a string (a number)', () => {
    const r = new Redactor([]).withSecrets(['12345678']);
    const json = JSON.stringify({ durationMs: 12345678, list: [12345678], pin: '12345678', note: 'x12345678y' });
    const out = JSON.parse(r.redactJson(json)) as Record<string, unknown>;
    expect(out).toEqual({ durationMs: 12345678, list: [12345678], pin: REDACTED, note: `x${REDACTED}y` });
  });

  it('replaces a secret that contains another one whole', () => {
    const r = new Redactor([]).withSecrets(['inner-secret', 'outer-inner-secret-x']);
    expect(r.redactText('[outer-inner-secret-x]')).toBe(`[${REDACTED}]`);
  });
});
