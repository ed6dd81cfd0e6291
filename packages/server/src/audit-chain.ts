/**
 * The audit log's cryptography, as pure functions: entry hashes over RFC 8785 (JCS) canonical
 * JSON, the RFC 6962 Merkle tree hash over entry hashes (kept as a frontier of perfect-subtree
 * roots so a checkpoint extends the previous one instead of rehashing the log), and the
 * Ed25519 checkpoint signature.
 *
 * - entry hash: `sha256(JCS(entry without hash))`, hex; the entry's `prevHash` is the previous
 *   entry's hash (null at seq 0), so the chain commits to every earlier entry.
 * - Merkle leaf: `sha256(0x00 ‖ entryHash bytes)`; node: `sha256(0x01 ‖ left ‖ right)`.
 * - signature: Ed25519 over `JCS({checkpoint, atSequence, merkleRoot})` — exactly the fields a
 *   verifier receives from `GET /v1/audit/verify`, so anyone holding the advertised public key
 *   can check a checkpoint.
 *
 * @see security-contract.md §1.10, docs/decisions/0007-managed-keys-and-audit-log.md
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { AuditEntry } from '@weft/store-kit';

/** RFC 8785 canonical JSON. */
export function jcs(value: unknown): string {
  const out = canonicalize(value);
  if (out === undefined) throw new Error('value has no JSON representation');
  return out;
}

const sha256 = (data: string | Buffer): Buffer => createHash('sha256').update(data).digest();

/** The hash of an entry: SHA-256 (hex) of the JCS of every field but `hash`. */
export function entryHash(e: Omit<AuditEntry, 'hash'> & { hash?: string }): string {
  const { hash: _ignored, ...rest } = e;
  return sha256(jcs(rest)).toString('hex');
}

/** Merkle leaf hash of one entry hash (hex in, bytes out). */
export function leafHash(entryHashHex: string): Buffer {
  return sha256(Buffer.concat([Buffer.from([0]), Buffer.from(entryHashHex, 'hex')]));
}

const nodeHash = (left: Buffer, right: Buffer): Buffer => sha256(Buffer.concat([Buffer.from([1]), left, right]));

/**
 * An RFC 6962 Merkle tree under construction: the roots of the perfect subtrees that make up
 * the first `size` leaves, largest first. `root()` equals the tree hash of all leaves.
 */
export class MerkleFrontier {
  private constructor(
    private readonly nodes: { height: number; hash: Buffer }[],
    private count: number,
  ) {}

  static empty(): MerkleFrontier {
    return new MerkleFrontier([], 0);
  }

  /**
   * Restores a frontier over `size` leaves from its stored hex roots; the heights follow from
   * the binary digits of `size`. Returns undefined when the two do not fit together.
   */
  static restore(size: number, roots: readonly string[]): MerkleFrontier | undefined {
    const heights: number[] = [];
    for (let h = 52; h >= 0; h--) if (Math.floor(size / 2 ** h) % 2 === 1) heights.push(h);
    if (heights.length !== roots.length || roots.some((r) => !/^[0-9a-f]{64}$/.test(r))) return undefined;
    return new MerkleFrontier(
      roots.map((r, i) => ({ height: heights[i] as number, hash: Buffer.from(r, 'hex') })),
      size,
    );
  }

  get size(): number {
    return this.count;
  }

  clone(): MerkleFrontier {
    return new MerkleFrontier(
      this.nodes.map((n) => ({ ...n })),
      this.count,
    );
  }

  /** Adds the leaf for one entry hash (hex). */
  push(entryHashHex: string): void {
    let node = { height: 0, hash: leafHash(entryHashHex) };
    for (let last = this.nodes.at(-1); last && last.height === node.height; last = this.nodes.at(-1)) {
      this.nodes.pop();
      node = { height: node.height + 1, hash: nodeHash(last.hash, node.hash) };
    }
    this.nodes.push(node);
    this.count++;
  }

  /** The tree hash (hex) of every leaf pushed so far. */
  root(): string {
    const last = this.nodes.at(-1);
    if (!last) return sha256(Buffer.alloc(0)).toString('hex');
    let acc = last.hash;
    for (let i = this.nodes.length - 2; i >= 0; i--) acc = nodeHash((this.nodes[i] as { hash: Buffer }).hash, acc);
    return acc.toString('hex');
  }

  /** The stored form: hex roots, largest subtree first. */
  roots(): string[] {
    return this.nodes.map((n) => n.hash.toString('hex'));
  }
}

/** The bytes a checkpoint signature covers. */
export function checkpointPayload(c: { checkpoint: string; atSequence: number; merkleRoot: string }): Buffer {
  return Buffer.from(jcs({ checkpoint: c.checkpoint, atSequence: c.atSequence, merkleRoot: c.merkleRoot }), 'utf8');
}

/** The wire id of checkpoint number `n`. */
export const checkpointId = (n: number): string => `ckpt-${n}`;

/** Signs a checkpoint (base64 Ed25519 signature). */
export function signCheckpoint(privateKey: KeyObject, c: { checkpoint: string; atSequence: number; merkleRoot: string }): string {
  return sign(null, checkpointPayload(c), privateKey).toString('base64');
}

/** Verifies a checkpoint signature; malformed input is simply invalid. */
export function verifyCheckpoint(publicKey: KeyObject, c: { checkpoint: string; atSequence: number; merkleRoot: string; signature: string }): boolean {
  try {
    return verify(null, checkpointPayload(c), publicKey, Buffer.from(c.signature, 'base64'));
  } catch {
    return false;
  }
}

/** The raw 32-byte Ed25519 public key, base64 — the advertised `checkpointPublicKey`. */
export function rawPublicKeyBase64(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new Error('not an Ed25519 public key');
  return Buffer.from(jwk.x, 'base64url').toString('base64');
}

/** Imports an advertised `checkpointPublicKey` (raw base64 or PEM). */
export function importCheckpointPublicKey(advertised: string): KeyObject {
  if (advertised.includes('BEGIN PUBLIC KEY')) return createPublicKey(advertised);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(advertised, 'base64').toString('base64url') }, format: 'jwk' });
}

/** A short fingerprint of a public key (first 16 hex of the SHA-256 of its raw bytes). */
export function keyFingerprint(publicKey: KeyObject): string {
  return sha256(Buffer.from(rawPublicKeyBase64(publicKey), 'base64'))
    .toString('hex')
    .slice(0, 16);
}
