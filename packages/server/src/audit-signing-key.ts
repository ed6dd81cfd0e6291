/**
 * The Ed25519 key that signs audit checkpoints. It is its own key, used for nothing else
 * (not interrupt tokens, not TLS, not webhooks): from `WEFT_AUDIT_SIGNING_KEY` (a PKCS#8 PEM
 * file), else generated once into the SQLite data directory (`audit-signing-key.pem`, mode
 * 0600), else generated per process (checkpoints then verify only while that process lives).
 *
 * @see security-contract.md §1.10
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The loaded audit signing key. */
export interface AuditSigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  source: 'config' | 'file' | 'ephemeral';
}

/** File name of the generated key inside the data directory. */
export const AUDIT_KEY_FILE = 'audit-signing-key.pem';

function fromPem(pem: string, where: string): { privateKey: KeyObject; publicKey: KeyObject } {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new Error(`${where} is not a PEM private key`, { cause: err });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${where} must be an Ed25519 private key`);
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/**
 * Loads the audit signing key: `configuredPath` (WEFT_AUDIT_SIGNING_KEY) wins; else
 * `<dataDir>/audit-signing-key.pem`, created on first use; else an ephemeral key.
 * Error messages name the file, never its content.
 */
export function loadAuditSigningKey(configuredPath: string | undefined, dataDir: string | undefined): AuditSigningKey {
  if (configuredPath) {
    let pem: string;
    try {
      pem = readFileSync(configuredPath, 'utf8');
    } catch (err) {
      throw new Error(`WEFT_AUDIT_SIGNING_KEY: cannot read ${configuredPath}`, { cause: err });
    }
    return { ...fromPem(pem, `WEFT_AUDIT_SIGNING_KEY (${configuredPath})`), source: 'config' };
  }
  if (dataDir) {
    const file = join(dataDir, AUDIT_KEY_FILE);
    if (!existsSync(file)) {
      const { privateKey } = generateKeyPairSync('ed25519');
      try {
        // 'wx': two processes starting at once cannot both write; the loser reads the winner's.
        writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
      } catch (err) {
        if ((err as { code?: unknown }).code !== 'EEXIST') throw err;
      }
    }
    return { ...fromPem(readFileSync(file, 'utf8'), file), source: 'file' };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey, source: 'ephemeral' };
}
