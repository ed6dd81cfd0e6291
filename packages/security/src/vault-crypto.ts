/**
 * Envelope encryption for the secrets vault. Each secret version gets its own random 256-bit
 * data key; the value is sealed with AES-256-GCM under that data key, and the data key is
 * wrapped by a master key through the {@link KeyManager} port (the local implementation wraps
 * with AES-256-GCM too; a KMS can implement the same port). Both layers authenticate
 * additional data that binds the tenant, the secret id and the version, so a ciphertext or a
 * wrapped key copied to another row does not decrypt. Every failure fails closed with
 * {@link VaultCryptoError}, whose message never carries key material.
 *
 * Master keys (`WEFT_MASTER_KEY` / `WEFT_MASTER_KEY_FILE`) are `kid:key` entries separated by
 * commas or newlines; `key` is 32 bytes as canonical unpadded base64url (43 characters) or as
 * 64 hex digits. The first entry is current (wraps new data keys); the others only unwrap, so
 * a rotation keeps the old key until every data key is rewrapped.
 *
 * @see security-contract.md §4.1 (SEC-05), §4.2
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** What a secret version is stored as: ciphertext only. */
export interface SealedSecret {
  /** The master key id that wrapped the data key. */
  masterKeyId: string;
  /** The wrapped data key (base64url; its format belongs to the key manager). */
  wrappedKey: string;
  /** base64url(iv ‖ ciphertext ‖ tag) of the value under the data key. */
  ciphertext: string;
}

/** Where a sealed secret belongs; bound into both layers as additional authenticated data. */
export interface SecretContext {
  tenant: string;
  secretId: string;
  version: number;
}

/** A data key wrapped by a master key. */
export interface WrappedKey {
  keyId: string;
  wrapped: string;
}

/**
 * The port a master-key holder implements: the local key file or variable today, a KMS later.
 * `context` is additional authenticated data the wrap must bind (a KMS encryption context).
 */
export interface KeyManager {
  /** The id of the key that wraps new data keys. */
  readonly currentKeyId: string;
  /** True when a key with this id can unwrap (it is current or kept for reading). */
  canUnwrap(keyId: string): boolean;
  /** Wraps a data key under the current master key. */
  wrap(dataKey: Buffer, context: Buffer): Promise<WrappedKey>;
  /** Unwraps; throws {@link VaultCryptoError} when the key is unknown or anything was altered. */
  unwrap(key: WrappedKey, context: Buffer): Promise<Buffer>;
}

/** A crypto failure: unknown master key, tampered data, wrong context. Never carries key material. */
export class VaultCryptoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VaultCryptoError';
  }
}

/** A master key: its id and 32 bytes. */
export interface MasterKey {
  id: string;
  key: Buffer;
}

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Master key ids: short and harmless (they are stored in every row and may be logged). */
export const MASTER_KEY_ID_RE = /^[A-Za-z0-9._-]{1,32}$/;

/** The AAD of one layer: a fixed label, the layer, and the context fields, NUL-separated. */
function aad(layer: 'value' | 'dek', ctx: SecretContext): Buffer {
  if (ctx.tenant.includes('\0') || ctx.secretId.includes('\0')) throw new VaultCryptoError('invalid secret context');
  if (!Number.isSafeInteger(ctx.version) || ctx.version < 1) throw new VaultCryptoError('invalid secret version');
  return Buffer.from(`weft-secret-v1\0${layer}\0${ctx.tenant}\0${ctx.secretId}\0${ctx.version}`, 'utf8');
}

/** AES-256-GCM seal: iv ‖ ciphertext ‖ tag. */
function seal(key: Buffer, plain: Buffer, additional: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(additional);
  const body = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([iv, body, c.getAuthTag()]);
}

/** AES-256-GCM open; any alteration (iv, body, tag, AAD, key) throws {@link VaultCryptoError}. */
function open(key: Buffer, sealed: Buffer, additional: Buffer, what: string): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new VaultCryptoError(`${what} is truncated`);
  try {
    const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    d.setAAD(additional);
    d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([d.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), d.final()]);
  } catch {
    throw new VaultCryptoError(`${what} does not authenticate`);
  }
}

/** Strict base64url: only the canonical unpadded spelling of its bytes decodes. */
function fromB64url(s: string, what: string): Buffer {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new VaultCryptoError(`${what} is not base64url`);
  const b = Buffer.from(s, 'base64url');
  if (b.toString('base64url') !== s) throw new VaultCryptoError(`${what} is not canonical base64url`);
  return b;
}

/** Master keys held in process memory (from a file or a variable). */
export class LocalKeyManager implements KeyManager {
  private readonly keys: ReadonlyMap<string, Buffer>;
  readonly currentKeyId: string;

  /** @param keys the first is current; ids must be unique. */
  constructor(keys: readonly MasterKey[]) {
    const first = keys[0];
    if (!first) throw new Error('at least one master key is required');
    const map = new Map<string, Buffer>();
    for (const k of keys) {
      if (!MASTER_KEY_ID_RE.test(k.id)) throw new Error('master key ids must match [A-Za-z0-9._-]{1,32}');
      if (k.key.length !== KEY_BYTES) throw new Error(`master key ${k.id} must be ${KEY_BYTES} bytes`);
      if (map.has(k.id)) throw new Error(`master key id ${k.id} appears twice`);
      map.set(k.id, Buffer.from(k.key));
    }
    this.keys = map;
    this.currentKeyId = first.id;
  }

  /** The ids, current first. */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  canUnwrap(keyId: string): boolean {
    return this.keys.has(keyId);
  }

  async wrap(dataKey: Buffer, context: Buffer): Promise<WrappedKey> {
    const key = this.keys.get(this.currentKeyId) as Buffer;
    return { keyId: this.currentKeyId, wrapped: seal(key, dataKey, this.bind(context, this.currentKeyId)).toString('base64url') };
  }

  async unwrap(w: WrappedKey, context: Buffer): Promise<Buffer> {
    const key = this.keys.get(w.keyId);
    if (!key) throw new VaultCryptoError(`master key ${MASTER_KEY_ID_RE.test(w.keyId) ? w.keyId : '(invalid id)'} is not configured`);
    return open(key, fromB64url(w.wrapped, 'wrapped data key'), this.bind(context, w.keyId), 'wrapped data key');
  }

  /** The key id is authenticated too, so a wrapped key relabelled with another id fails. */
  private bind(context: Buffer, keyId: string): Buffer {
    return Buffer.concat([context, Buffer.from(`\0kid\0${keyId}`, 'utf8')]);
  }
}

/** Seals `value` for `ctx` under a fresh data key wrapped by the current master key. */
export async function sealSecret(km: KeyManager, ctx: SecretContext, value: string): Promise<SealedSecret> {
  const dataKey = randomBytes(KEY_BYTES);
  try {
    const ciphertext = seal(dataKey, Buffer.from(value, 'utf8'), aad('value', ctx)).toString('base64url');
    const w = await km.wrap(dataKey, aad('dek', ctx));
    return { masterKeyId: w.keyId, wrappedKey: w.wrapped, ciphertext };
  } finally {
    dataKey.fill(0);
  }
}

/** Opens a sealed secret stored for `ctx`; fails closed on any mismatch. */
export async function openSecret(km: KeyManager, ctx: SecretContext, sealed: SealedSecret): Promise<string> {
  const dataKey = await km.unwrap({ keyId: sealed.masterKeyId, wrapped: sealed.wrappedKey }, aad('dek', ctx));
  try {
    if (dataKey.length !== KEY_BYTES) throw new VaultCryptoError('data key has the wrong length');
    const plain = open(dataKey, fromB64url(sealed.ciphertext, 'secret ciphertext'), aad('value', ctx), 'secret ciphertext');
    const text = plain.toString('utf8');
    plain.fill(0);
    return text;
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Rewraps the data key of a sealed secret under the current master key; the value ciphertext
 * is unchanged (the data key is the same). Returns the input when it is already current.
 */
export async function rewrapSecret(km: KeyManager, ctx: SecretContext, sealed: SealedSecret): Promise<SealedSecret> {
  if (sealed.masterKeyId === km.currentKeyId) return sealed;
  const context = aad('dek', ctx);
  const dataKey = await km.unwrap({ keyId: sealed.masterKeyId, wrapped: sealed.wrappedKey }, context);
  try {
    const w = await km.wrap(dataKey, context);
    return { masterKeyId: w.keyId, wrappedKey: w.wrapped, ciphertext: sealed.ciphertext };
  } finally {
    dataKey.fill(0);
  }
}

/** Fewest distinct byte values a 32-byte master key may have (random keys have ~28). */
const MIN_DISTINCT_BYTES = 16;

/**
 * Parses master keys: `kid:key` entries separated by commas or newlines (blank lines and lines
 * starting with `#` ignored), `key` = 32 bytes as canonical unpadded base64url or 64 hex
 * digits. Refuses malformed, duplicate and weak keys (fewer than 16 distinct byte values —
 * all-zero, repeated or hand-typed patterns). Error messages name the entry number and
 * `source`, never key material.
 */
export function parseMasterKeys(text: string, source: string): MasterKey[] {
  const entries = text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s !== '' && !s.startsWith('#'));
  if (entries.length === 0) throw new Error(`${source} holds no master key (expected kid:key)`);
  const seen = new Set<string>();
  return entries.map((entry, i) => {
    const where = `${source} entry #${i + 1}`;
    const at = entry.indexOf(':');
    const id = at > 0 ? entry.slice(0, at) : '';
    const raw = at > 0 ? entry.slice(at + 1) : '';
    if (!MASTER_KEY_ID_RE.test(id)) throw new Error(`${where} must be kid:key with a kid of [A-Za-z0-9._-]{1,32}`);
    if (seen.has(id)) throw new Error(`${where}: key id ${id} appears twice`);
    seen.add(id);
    let key: Buffer | undefined;
    if (/^[0-9a-fA-F]{64}$/.test(raw)) key = Buffer.from(raw, 'hex');
    else if (/^[A-Za-z0-9_-]{43}$/.test(raw)) {
      const b = Buffer.from(raw, 'base64url');
      if (b.length === KEY_BYTES && b.toString('base64url') === raw) key = b;
    }
    if (!key) throw new Error(`${where} (${id}): the key must be 32 bytes as 43 base64url characters or 64 hex digits`);
    if (new Set(key).size < MIN_DISTINCT_BYTES)
      throw new Error(`${where} (${id}): the key is too weak (not random); generate one with \`openssl rand -base64 32 | tr '+/' '-_' | tr -d '='\``);
    return { id, key };
  });
}

/** A fresh random master key entry `kid:base64url`, in the format {@link parseMasterKeys} reads. */
export function generateMasterKeyEntry(id: string): string {
  if (!MASTER_KEY_ID_RE.test(id)) throw new Error('master key ids must match [A-Za-z0-9._-]{1,32}');
  return `${id}:${randomBytes(KEY_BYTES).toString('base64url')}`;
}
