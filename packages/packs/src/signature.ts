/**
 * Ed25519 pack signatures, as the registry makes them: a detached signature of **64 raw
 * bytes** over the raw bytes of `pack.json` exactly as stored in the archive (never a
 * re-serialisation, never the tarball). Public keys are SPKI PEM (registry `/keys/{id}.pub`)
 * or, in lockfiles, base64 — of the raw 32-byte key or of the SPKI DER.
 *
 * @see execution-semantics.md §0 item 2, §6.4; security-contract.md §5.2 PACK-01
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { PackError } from './errors.js';

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows. */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * Parses a public key: SPKI PEM, or base64 of the raw 32 bytes or of the SPKI DER.
 * @throws PackError `pack_signature_unverifiable` when it is none of those or not Ed25519
 */
export function parsePublicKey(text: string): KeyObject {
  let key: KeyObject;
  try {
    const t = text.trim();
    if (t.startsWith('-----BEGIN')) key = createPublicKey(t);
    else {
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t)) throw new Error('not base64');
      const der = Buffer.from(t, 'base64');
      key = createPublicKey({ key: der.length === 32 ? Buffer.concat([SPKI_ED25519_PREFIX, der]) : der, format: 'der', type: 'spki' });
    }
  } catch (e) {
    throw new PackError('pack_signature_unverifiable', 'The public key is not an Ed25519 SPKI PEM or base64 key.', undefined, { cause: e });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new PackError('pack_signature_unverifiable', 'The public key is not an Ed25519 key.');
  return key;
}

/** The raw 32 bytes of an Ed25519 public key, base64 (the lockfile's `publicKey`). */
export function publicKeyBase64(key: KeyObject): string {
  const der = key.export({ format: 'der', type: 'spki' });
  return der.subarray(SPKI_ED25519_PREFIX.length).toString('base64');
}

/**
 * Decodes a base64 signature (lockfile) to its 64 raw bytes.
 * @throws PackError `pack_signature_unverifiable`
 */
export function decodeSignature(b64: string): Buffer {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new PackError('pack_signature_unverifiable', 'The signature is not base64.');
  const raw = Buffer.from(b64, 'base64');
  if (raw.length !== 64) throw new PackError('pack_signature_unverifiable', `The signature is ${raw.length} bytes, not 64.`);
  return raw;
}

/**
 * Verifies `signature` (64 raw bytes) over the raw `pack.json` bytes.
 * @throws PackError `pack_signature_unverifiable` (wrong length) | `pack_signature_invalid`
 */
export function verifyManifestSignature(manifestBytes: Uint8Array, signature: Uint8Array, key: KeyObject): void {
  if (signature.byteLength !== 64) throw new PackError('pack_signature_unverifiable', `The signature is ${signature.byteLength} bytes, not 64.`);
  let ok = false;
  try {
    ok = verify(null, manifestBytes, key, signature);
  } catch (e) {
    throw new PackError('pack_signature_unverifiable', 'The signature could not be checked with this key.', undefined, { cause: e });
  }
  if (!ok) throw new PackError('pack_signature_invalid', 'The Ed25519 signature does not match pack.json.');
}

/** Signs the raw `pack.json` bytes with an Ed25519 private key (PKCS#8 PEM); 64 raw bytes. */
export function signManifest(manifestBytes: Uint8Array, privateKeyPem: string): Buffer {
  const key = createPrivateKey(privateKeyPem);
  if (key.asymmetricKeyType !== 'ed25519') throw new PackError('pack_signature_unverifiable', 'The signing key is not an Ed25519 key.');
  return sign(null, manifestBytes, key);
}

/** A new Ed25519 key pair as PEM (private PKCS#8, public SPKI). */
export function generateSigningKey(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}
