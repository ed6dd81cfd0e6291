import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  LocalKeyManager,
  VaultCryptoError,
  generateMasterKeyEntry,
  openSecret,
  parseMasterKeys,
  rewrapSecret,
  sealSecret,
  type SealedSecret,
  type SecretContext,
} from './vault-crypto.js';

// Assembled at runtime so secret scanners do not flag this file.
const VALUE = ['sk-', 'vault', 'TestValue0123456789abcdefXYZ'].join('');
const CTX: SecretContext = { tenant: 't1', secretId: 'openai', version: 1 };
const km = (...ids: string[]): LocalKeyManager => new LocalKeyManager(ids.map((id) => ({ id, key: randomBytes(32) })));

/** Flips one bit of a base64url field's bytes. */
function flip(b64: string, at: number): string {
  const b = Buffer.from(b64, 'base64url');
  const i = ((at % b.length) + b.length) % b.length;
  b[i] = (b[i] as number) ^ 0x01;
  return b.toString('base64url');
}

describe('vault envelope encryption', () => {
  it('seals and opens a value; the stored form holds no plaintext and differs each time', async () => {
    const m = km('k1');
    const a = await sealSecret(m, CTX, VALUE);
    const b = await sealSecret(m, CTX, VALUE);
    expect(a.masterKeyId).toBe('k1');
    expect(JSON.stringify(a)).not.toContain(VALUE);
    expect(Buffer.from(a.ciphertext, 'base64url').toString('latin1')).not.toContain('vault');
    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(a.wrappedKey).not.toBe(b.wrappedKey);
    expect(await openSecret(m, CTX, a)).toBe(VALUE);
    expect(await openSecret(m, CTX, b)).toBe(VALUE);
  });

  it('invariant: vault-ciphertext-bound — a tampered ciphertext, wrapped key, iv or tag fails closed', async () => {
    const m = km('k1');
    const s = await sealSecret(m, CTX, VALUE);
    const len = Buffer.from(s.ciphertext, 'base64url').length;
    const tampered: SealedSecret[] = [
      { ...s, ciphertext: flip(s.ciphertext, 0) }, // iv
      { ...s, ciphertext: flip(s.ciphertext, 14) }, // body
      { ...s, ciphertext: flip(s.ciphertext, len - 1) }, // tag
      { ...s, ciphertext: Buffer.from(s.ciphertext, 'base64url').subarray(0, 20).toString('base64url') }, // truncated
      { ...s, ciphertext: `${s.ciphertext}=` }, // non-canonical spelling
      { ...s, wrappedKey: flip(s.wrappedKey, 3) },
      { ...s, wrappedKey: flip(s.wrappedKey, -1) },
      { ...s, ciphertext: (await sealSecret(m, CTX, VALUE)).ciphertext }, // value of another data key
    ];
    for (const t of tampered) await expect(openSecret(m, CTX, t)).rejects.toBeInstanceOf(VaultCryptoError);
  });

  it('invariant: vault-ciphertext-bound — a row moved to another tenant, secret id or version does not decrypt', async () => {
    const m = km('k1');
    const s = await sealSecret(m, CTX, VALUE);
    for (const other of [
      { ...CTX, tenant: 't2' },
      { ...CTX, secretId: 'openai2' },
      { ...CTX, version: 2 },
      // The NUL-separated encoding leaves no ambiguity between fields.
      { tenant: 't', secretId: '1\0openai', version: 1 },
    ]) {
      await expect(openSecret(m, other, s)).rejects.toBeInstanceOf(VaultCryptoError);
    }
    expect(await openSecret(m, CTX, s)).toBe(VALUE);
  });

  it('a relabelled master key id, an unknown id or another master key fails closed without echoing key material', async () => {
    const m = new LocalKeyManager([
      { id: 'k2', key: randomBytes(32) },
      { id: 'k1', key: randomBytes(32) },
    ]);
    const s = await sealSecret(m, CTX, VALUE);
    expect(s.masterKeyId).toBe('k2');
    await expect(openSecret(m, CTX, { ...s, masterKeyId: 'k1' })).rejects.toBeInstanceOf(VaultCryptoError);
    const err = await openSecret(km('k2'), CTX, s).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VaultCryptoError);
    await expect(openSecret(m, CTX, { ...s, masterKeyId: 'nope' })).rejects.toThrow(/not configured/);
    expect(String((err as Error).message)).not.toContain(s.wrappedKey);
  });

  it('invariant: vault-master-key-rotation — the new key wraps, the old one still reads, rewrap moves the data key and keeps the ciphertext', async () => {
    const old = { id: 'k1', key: randomBytes(32) };
    const next = { id: 'k2', key: randomBytes(32) };
    const before = new LocalKeyManager([old]);
    const s1 = await sealSecret(before, CTX, VALUE);
    const during = new LocalKeyManager([next, old]);
    expect(during.currentKeyId).toBe('k2');
    expect(await openSecret(during, CTX, s1)).toBe(VALUE);
    expect((await sealSecret(during, CTX, VALUE)).masterKeyId).toBe('k2');
    const s2 = await rewrapSecret(during, CTX, s1);
    expect(s2.masterKeyId).toBe('k2');
    expect(s2.ciphertext).toBe(s1.ciphertext);
    expect(s2.wrappedKey).not.toBe(s1.wrappedKey);
    expect(await rewrapSecret(during, CTX, s2)).toBe(s2);
    // Once every data key is rewrapped, the old key can go.
    const after = new LocalKeyManager([next]);
    expect(await openSecret(after, CTX, s2)).toBe(VALUE);
    await expect(openSecret(after, CTX, s1)).rejects.toBeInstanceOf(VaultCryptoError);
    // Rewrapping does not launder a tampered row.
    await expect(rewrapSecret(during, CTX, { ...s1, wrappedKey: flip(s1.wrappedKey, 5) })).rejects.toBeInstanceOf(VaultCryptoError);
  });
});

describe('master key parsing', () => {
  const b64 = randomBytes(32).toString('base64url');
  const hex = randomBytes(32).toString('hex');

  it('reads kid:key entries (base64url or hex), current first, commas or lines, comments skipped', () => {
    const keys = parseMasterKeys(`# rotated 2026-12\nk2:${b64}\n\nk1:${hex}\n`, 'file');
    expect(keys.map((k) => k.id)).toEqual(['k2', 'k1']);
    expect(keys[0]?.key.toString('base64url')).toBe(b64);
    expect(keys[1]?.key.toString('hex')).toBe(hex);
    expect(parseMasterKeys(`a:${b64},b:${hex}`, 'env').map((k) => k.id)).toEqual(['a', 'b']);
    const gen = generateMasterKeyEntry('gen1');
    expect(parseMasterKeys(gen, 'gen')[0]?.id).toBe('gen1');
  });

  it('invariant: vault-master-key-strength — refuses malformed, short, duplicate and weak keys without echoing them', () => {
    const weak = [
      `k1:${Buffer.alloc(32).toString('base64url')}`,
      `k1:${'ab'.repeat(32)}`,
      `k1:${Buffer.from('0123456789012345678901234567890!').toString('hex')}`,
    ];
    const malformed = [
      '',
      '# only a comment',
      b64,
      `:${b64}`,
      `bad id:${b64}`,
      `k1:${b64.slice(0, 42)}`,
      `k1:${randomBytes(16).toString('hex')}`,
      `k1:${randomBytes(32).toString('base64')}=`,
      `k1:${b64},k1:${hex}`,
      `${'x'.repeat(33)}:${b64}`,
    ];
    for (const text of [...weak, ...malformed]) {
      let msg = '';
      try {
        parseMasterKeys(text, 'WEFT_MASTER_KEY');
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg, text).toMatch(/^WEFT_MASTER_KEY/);
      const material = text.split(/[:,]/).filter((p) => p.length >= 16);
      for (const m of material) expect(msg).not.toContain(m);
    }
  });
});
