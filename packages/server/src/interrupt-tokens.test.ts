import { randomBytes } from 'node:crypto';
import { WeftError } from '@weft/contract';
import { describe, expect, it } from 'vitest';
import { InterruptTokens, decodeCanonicalBase64url } from './interrupt-tokens.js';

const NOW = 1_800_000_000_000;
const tokens = new InterruptTokens([{ kid: 'k1', secret: randomBytes(32) }]);
/** A token whose MAC uses the URL-safe characters, so its standard-alphabet spelling differs. */
function mintUrlSafe(): string {
  for (let i = 0; ; i++) {
    const t = tokens.mint({ runId: 'run_1', nodeId: 'gate', interruptId: `int_${i}` }, NOW).token;
    if (/[-_]/.test(t.split('.')[1] as string)) return t;
  }
}
const token = mintUrlSafe();

/** What verify throws, as a comparable value. */
function refusal(t: string): unknown {
  try {
    tokens.verify(t, NOW);
  } catch (e) {
    if (!(e instanceof WeftError)) throw e;
    return { status: e.status, envelope: e.toEnvelope(), headers: e.headers };
  }
  return 'verified';
}

/** Flips the last character to another one that decodes to the same bytes (padding bits set). */
function withPaddingBits(seg: string): string | undefined {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const bytes = Buffer.from(seg, 'base64url');
  for (const c of alphabet) {
    const alt = `${seg.slice(0, -1)}${c}`;
    if (alt !== seg && Buffer.from(alt, 'base64url').equals(bytes)) return alt;
  }
  return undefined;
}

describe('interrupt tokens: canonical decoding', () => {
  const [body, mac] = token.split('.') as [string, string];
  const random = `${randomBytes(60).toString('base64url')}.${randomBytes(32).toString('base64url')}`;

  it('verifies the minted token', () => {
    expect(tokens.verify(token, NOW)).toMatchObject({ runId: 'run_1', nodeId: 'gate', interruptId: expect.stringMatching(/^int_\d+$/) });
  });

  it('invariant: interrupt-token-canonical — every other spelling of the same bytes answers exactly like a random token', () => {
    const macBits = withPaddingBits(mac);
    const bodyBits = withPaddingBits(body);
    // A 32-byte MAC has 2 spare bits in its last character: another spelling must exist.
    expect(macBits).toBeDefined();
    const variants = [
      `${token}==`,
      `${token}=`,
      `${body}.${mac}=`,
      `${body}==.${mac}`,
      `${body}.${mac.slice(0, 10)}!${mac.slice(10)}`,
      `${body.slice(0, 5)}!${body.slice(5)}.${mac}`,
      `${body}.${mac.slice(0, 10)} ${mac.slice(10)}`,
      `${body}.${mac.slice(0, 10)}%20${mac.slice(10)}`,
      `${body.replaceAll('-', '+').replaceAll('_', '/')}.${mac.replaceAll('-', '+').replaceAll('_', '/')}`,
      `${body}.${macBits as string}`,
      ...(bodyBits ? [`${bodyBits}.${mac}`] : []),
      ` ${token}`,
      `${token}\n`,
      `${body}..${mac}`,
    ];
    // Prove the variants are real: Node's lenient decoder maps each to the minted bytes.
    expect(Buffer.from(`${mac}==`, 'base64url').equals(Buffer.from(mac, 'base64url'))).toBe(true);
    expect(Buffer.from(macBits as string, 'base64url').equals(Buffer.from(mac, 'base64url'))).toBe(true);
    const expected = refusal(random);
    expect(expected).toMatchObject({ status: 404, envelope: { error: 'not_found' } });
    for (const v of variants) {
      expect(v).not.toBe(token);
      expect(refusal(v), JSON.stringify(v)).toEqual(expected);
    }
    // The canonical token still verifies afterwards.
    expect(refusal(token)).toBe('verified');
  });

  it('decodeCanonicalBase64url accepts only the canonical unpadded spelling', () => {
    expect(decodeCanonicalBase64url('AQID')?.equals(Buffer.from([1, 2, 3]))).toBe(true);
    expect(decodeCanonicalBase64url('AQ')?.equals(Buffer.from([1]))).toBe(true);
    expect(decodeCanonicalBase64url('')?.length).toBe(0);
    for (const bad of ['AQ==', 'AR', 'AQI+', 'AQI/', 'AQ!D', 'A QID', 'A', 'AQID=']) expect(decodeCanonicalBase64url(bad), bad).toBeUndefined();
  });
});
