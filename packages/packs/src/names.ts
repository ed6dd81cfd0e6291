/**
 * Pack names, versions, namespaces and which typeIds a pack may declare.
 *
 * @see execution-semantics.md §6.1, §6.4
 */
import { PACK_NAME_PATTERN, SEMVER_PATTERN } from '@weft/contract';

const NAME = new RegExp(PACK_NAME_PATTERN);
const SEMVER = new RegExp(SEMVER_PATTERN);

/** True for a valid pack name (`vendor.acme.tools`). */
export const isPackName = (s: string): boolean => s.length <= 214 && NAME.test(s);

/** True for an exact SemVer 2.0.0 version. */
export const isExactVersion = (s: string): boolean => s.length <= 64 && SEMVER.test(s);

/**
 * The namespace a pack owns: its tier and owner (`vendor.acme` for `vendor.acme.tools`).
 * A pack's typeIds must live below it, so two owners can never claim each other's types.
 */
export function ownerNamespace(packName: string): string {
  return packName.split('.').slice(0, 2).join('.');
}

/**
 * True when `name` is covered by a `permittedNamespaces` entry: an exact name, or `prefix.*`
 * (every name strictly below `prefix`). A bare `*` covers nothing: a key must name its scope.
 */
export function namespaceMatches(pattern: string, name: string): boolean {
  if (pattern.endsWith('.*')) {
    const prefix = pattern.slice(0, -1);
    return prefix.length > 1 && name.startsWith(prefix) && name.length > prefix.length;
  }
  return pattern === name;
}

/** True when a pack named `packName` may declare `typeId` (it lives in the pack's owner namespace). */
export function typeIdAllowed(packName: string, typeId: string): boolean {
  return typeId.startsWith(`${ownerNamespace(packName)}.`);
}

/** Compares two exact versions by SemVer precedence (build metadata ignored). */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string): { core: number[]; pre: string[] } => {
    const [main = '', pre] = v.split('+')[0]?.split(/-(.*)/s) ?? [];
    return { core: main.split('.').map(Number), pre: pre ? pre.split('.') : [] };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (x.core[i] ?? 0) - (y.core[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  if (x.pre.length === 0 || y.pre.length === 0) return x.pre.length === y.pre.length ? 0 : x.pre.length === 0 ? 1 : -1;
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Math.sign(Number(p) - Number(q));
    if (pn !== qn) return pn ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return 0;
}
