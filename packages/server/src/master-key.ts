/**
 * The vault's master keys. From `WEFT_MASTER_KEY` (the entries themselves) or
 * `WEFT_MASTER_KEY_FILE` (a file holding them; refused when group- or world-writable) — never
 * both. Without either: the SQLite store generates one key into `<dataDir>/master.key` (mode
 * 0600, created exclusively so two processes cannot both write it); the memory store uses a
 * per-process key (its secrets die with the process anyway); a Postgres host keeps the vault
 * disabled, because every process sharing the database must hold the same key and only the
 * operator can hand it to all of them. Format and rotation: decision 0018 and
 * docs/security/README.md "Secrets vault".
 *
 * @see security-contract.md §4.1
 */
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalKeyManager, generateMasterKeyEntry, parseMasterKeys, type KeyManager, type MasterKey } from '@weft/security';

/** File name of the generated master key inside the data directory. */
export const MASTER_KEY_FILE = 'master.key';

/** The loaded master keys. */
export interface MasterKeys {
  manager: KeyManager;
  /** Ids, current first (for start-up notes; never the keys). */
  keyIds: string[];
  /** `env`/`file`: configured; `generated`: written now into `path`; `data-dir`: read from `path`; `ephemeral`: per process. */
  source: 'env' | 'file' | 'generated' | 'data-dir' | 'ephemeral';
  path?: string;
  /**
   * HMAC key for request digests (the Idempotency-Key body hash of vault routes), derived from
   * the current master key, so a stored request hash never is a plain hash of a secret value.
   */
  digestKey: Buffer;
}

/** What {@link loadMasterKeys} reads. */
export interface MasterKeySettings {
  store: 'sqlite' | 'memory' | 'postgres';
  dataDir: string;
  masterKey?: string;
  masterKeyFile?: string;
}

function readKeyFile(path: string, what: string): string {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (err) {
    throw new Error(`${what}: cannot read ${path}`, { cause: err });
  }
  if (process.platform !== 'win32' && (mode & 0o022) !== 0) throw new Error(`${what}: ${path} is group- or world-writable; make it 0600 or 0400`);
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${what}: cannot read ${path}`, { cause: err });
  }
}

function loaded(keys: MasterKey[], source: MasterKeys['source'], path?: string): MasterKeys {
  const current = keys[0] as MasterKey;
  const digestKey = Buffer.from(hkdfSync('sha256', current.key, Buffer.alloc(0), 'weft-vault-request-digest-v1', 32));
  return { manager: new LocalKeyManager(keys), keyIds: keys.map((k) => k.id), source, ...(path ? { path } : {}), digestKey };
}

/**
 * Loads the master keys, or `undefined` when the vault stays disabled (Postgres without a
 * configured key). Errors name the variable or file, never key material.
 */
export function loadMasterKeys(s: MasterKeySettings): MasterKeys | undefined {
  if (s.masterKey && s.masterKeyFile) throw new Error('set WEFT_MASTER_KEY or WEFT_MASTER_KEY_FILE, not both');
  if (s.masterKey) return loaded(parseMasterKeys(s.masterKey, 'WEFT_MASTER_KEY'), 'env');
  if (s.masterKeyFile)
    return loaded(parseMasterKeys(readKeyFile(s.masterKeyFile, 'WEFT_MASTER_KEY_FILE'), `WEFT_MASTER_KEY_FILE (${s.masterKeyFile})`), 'file', s.masterKeyFile);
  if (s.store === 'memory') return loaded([{ id: `ephemeral-${randomBytes(4).toString('hex')}`, key: randomBytes(32) }], 'ephemeral');
  if (s.store !== 'sqlite') return undefined;
  mkdirSync(s.dataDir, { recursive: true, mode: 0o700 });
  const file = join(s.dataDir, MASTER_KEY_FILE);
  let source: MasterKeys['source'] = 'data-dir';
  if (!existsSync(file)) {
    try {
      // 'wx': two processes starting at once cannot both write; the loser reads the winner's.
      writeFileSync(
        file,
        `# Weft vault master key (kid:key). Back it up apart from weft.db; see docs/security/README.md.\n${generateMasterKeyEntry(`local-${randomBytes(4).toString('hex')}`)}\n`,
        {
          mode: 0o600,
          flag: 'wx',
        },
      );
      source = 'generated';
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'EEXIST') throw err;
    }
  }
  return loaded(parseMasterKeys(readKeyFile(file, 'vault master key'), file), source, file);
}

/** HMAC-SHA256 (hex) of `value` under the digest key: stable across processes sharing the master key. */
export function requestDigest(digestKey: Buffer, value: string): string {
  return createHmac('sha256', digestKey).update(value, 'utf8').digest('hex');
}
