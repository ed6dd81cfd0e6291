/**
 * Trusted signing keys: a registry's `signingKeys[]` (or a local keychain file of the same
 * shape), each permitted for some namespaces, plus operator pins that bind a namespace to
 * specific key ids. A key shipped inside a pack (`keys/<id>.pem`) is never trusted: trust
 * comes only from the keychain the operator configured.
 *
 * @see execution-semantics.md §6.4, security-contract.md §5.2 PACK-02
 */
import type { KeyObject } from 'node:crypto';
import { KeychainFileSchema, WeftError, compileValidator, type KeychainFile, type RegistrySigningKey } from '@weft/contract';
import { PackError } from './errors.js';
import { namespaceMatches } from './names.js';
import { parsePublicKey } from './signature.js';

/** A key the operator trusts. */
export interface TrustedKey {
  keyId: string;
  key: KeyObject;
  /** Exact pack names or `prefix.*` patterns the key may sign. */
  permittedNamespaces: readonly string[];
  /** `active` keys sign; any other status (`revoked`, `retired`) refuses new loads. */
  status: string;
  /** Epoch ms after which the key signs nothing. */
  expiresAt?: number;
  /** Where the key came from (a registry URL or a keychain file), for messages. */
  source: string;
}

/** Namespace pattern → the key ids allowed to sign packs in it. */
export type KeyPins = ReadonlyMap<string, readonly string[]>;

const validateKeychainFile = compileValidator<KeychainFile>(KeychainFileSchema);

/** Builds a {@link TrustedKey} from a keychain entry whose PEM is at hand. */
export function trustedKey(entry: RegistrySigningKey, pem: string, source: string): TrustedKey {
  const out: TrustedKey = {
    keyId: entry.keyId,
    key: parsePublicKey(pem),
    permittedNamespaces: entry.permittedNamespaces,
    status: entry.status ?? 'active',
    source,
  };
  if (entry.expiresAt) out.expiresAt = Date.parse(entry.expiresAt);
  return out;
}

/**
 * Parses a local keychain file (`{signingKeys:[{keyId, algorithm, publicKey, permittedNamespaces, status?}]}`).
 * @throws PackError `registry_invalid`
 */
export function parseKeychainFile(json: unknown, source: string): TrustedKey[] {
  let doc: KeychainFile;
  try {
    doc = validateKeychainFile(json, 'keychain');
  } catch (e) {
    throw new PackError('registry_invalid', `The keychain ${source} is invalid.`, e instanceof WeftError ? e.details : undefined);
  }
  return doc.signingKeys.map((k) => {
    if (!k.publicKey) throw new PackError('registry_invalid', `Key ${k.keyId} in ${source} has no inline publicKey.`);
    return trustedKey(k, k.publicKey, source);
  });
}

/**
 * Parses `vendor.acme.*=acme-1|acme-2,community.bob.tools=bob-1` into pins.
 * @throws PackError `pack_source_invalid`
 */
export function parseKeyPins(raw: string | undefined): KeyPins {
  const pins = new Map<string, string[]>();
  for (const part of (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = part.indexOf('=');
    const ns = eq > 0 ? part.slice(0, eq).trim() : '';
    const ids =
      eq > 0
        ? part
            .slice(eq + 1)
            .split('|')
            .map((s) => s.trim())
            .filter(Boolean)
        : [];
    if (!/^[a-z][a-z0-9_.-]*(\.\*)?$/.test(ns) || ids.length === 0) {
      throw new PackError('pack_source_invalid', `Key pin "${part.slice(0, 100)}" must be namespace=keyId[|keyId…] (namespace exact or prefix.*).`);
    }
    pins.set(ns, [...(pins.get(ns) ?? []), ...ids]);
  }
  return pins;
}

/** The keys a verifier may use. */
export class Keychain {
  private readonly keys = new Map<string, TrustedKey>();

  constructor(
    keys: readonly TrustedKey[] = [],
    readonly pins: KeyPins = new Map(),
  ) {
    for (const k of keys) {
      if (this.keys.has(k.keyId))
        throw new PackError('registry_invalid', `Key id ${k.keyId} is listed twice (${this.keys.get(k.keyId)?.source}, ${k.source}).`);
      this.keys.set(k.keyId, k);
    }
  }

  /** The keychain with more keys (a registry's) added. */
  with(keys: readonly TrustedKey[]): Keychain {
    return new Keychain([...this.keys.values(), ...keys], this.pins);
  }

  /** True when `keyId` is in the keychain (whatever its status). */
  has(keyId: string): boolean {
    return this.keys.has(keyId);
  }

  get size(): number {
    return this.keys.size;
  }

  /**
   * The key `keyId`, checked for signing `packName` at `now`: it must be in the keychain, be
   * active and unexpired, be permitted for the pack's namespace, and be one of the keys pinned
   * for every pinned namespace the pack falls in.
   * @throws PackError `signature_unknown_key` | `pack_key_revoked` | `pack_key_expired` |
   *   `pack_key_namespace_denied` | `pack_key_not_pinned`
   */
  resolve(keyId: string, packName: string, now: number): TrustedKey {
    const k = this.keys.get(keyId);
    if (!k) throw new PackError('signature_unknown_key', `Key ${keyId.slice(0, 128)} is not in the trusted keychain.`, { keyId: keyId.slice(0, 128) });
    if (k.status !== 'active') throw new PackError('pack_key_revoked', `Key ${keyId} is ${k.status}.`, { keyId, status: k.status });
    if (k.expiresAt !== undefined && !(now < k.expiresAt)) throw new PackError('pack_key_expired', `Key ${keyId} expired.`, { keyId });
    if (!k.permittedNamespaces.some((p) => namespaceMatches(p, packName))) {
      throw new PackError('pack_key_namespace_denied', `Key ${keyId} may not sign packs named ${packName}.`, {
        keyId,
        pack: packName,
        permittedNamespaces: k.permittedNamespaces,
      });
    }
    for (const [ns, ids] of this.pins) {
      if (namespaceMatches(ns, packName) && !ids.includes(keyId)) {
        throw new PackError('pack_key_not_pinned', `Packs in ${ns} must be signed by ${ids.join(' or ')}, not ${keyId}.`, {
          keyId,
          namespace: ns,
          pinned: ids,
        });
      }
    }
    return k;
  }
}
