/**
 * Validates what the host emits against the official OpenWOP JSON Schemas, read at test time
 * from the contracts directory (`WEFT_CONTRACTS_DIR`, default `../shared/contracts` beside the
 * repository; never copied). The suite only runs when that directory exists (vitest.config.ts
 * skips or, under CI, refuses it otherwise), so a missing directory here is an error.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAjv, toFieldErrors } from '@weft/contract';

type Kind = 'capabilities' | 'run-snapshot' | 'run-event' | 'error-envelope' | 'audit-verify-result' | 'debug-bundle';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const schemasDir = join(process.env.WEFT_CONTRACTS_DIR || join(repoRoot, '..', 'shared', 'contracts'), 'schemas');

let validators: Map<Kind, (v: unknown) => boolean & { errors?: unknown }> | undefined;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : n.endsWith('.json') ? [p] : [];
  });
}

function load(): Map<Kind, (v: unknown) => boolean & { errors?: unknown }> {
  if (validators !== undefined) return validators;
  if (!existsSync(schemasDir)) {
    throw new Error(
      `the official OpenWOP schemas are not at ${schemasDir}: set WEFT_CONTRACTS_DIR to the directory holding schemas/ and conformance-fixtures/`,
    );
  }
  const ajv = createAjv();
  const byFile = new Map<string, { $id?: string }>();
  for (const f of walk(schemasDir)) {
    const s = JSON.parse(readFileSync(f, 'utf8')) as { $id?: string };
    byFile.set(f, s);
    try {
      ajv.addSchema(s);
    } catch {
      // duplicate $id between copies: keep the first
    }
  }
  const idOf = (name: string): string => {
    const s = byFile.get(join(schemasDir, `${name}.schema.json`));
    if (!s?.$id) throw new Error(`official schema ${name} missing`);
    return s.$id;
  };
  validators = new Map();
  for (const k of ['capabilities', 'run-snapshot', 'run-event', 'error-envelope', 'audit-verify-result', 'debug-bundle'] as const) {
    const fn = ajv.getSchema(idOf(k));
    if (!fn) throw new Error(`cannot compile official schema ${k}`);
    validators.set(k, fn as never);
  }
  return validators;
}

/** Counts of documents checked, per kind (reported by the suite). */
export const checked: Record<Kind, number> = {
  capabilities: 0,
  'run-snapshot': 0,
  'run-event': 0,
  'error-envelope': 0,
  'audit-verify-result': 0,
  'debug-bundle': 0,
};

/** Throws when `doc` does not validate against the official schema for `kind`. */
export function checkContract(kind: Kind, doc: unknown): void {
  const fn = load().get(kind) as unknown as ((d: unknown) => boolean) & { errors?: Parameters<typeof toFieldErrors>[0] };
  checked[kind] += 1;
  if (!fn(doc)) {
    throw new Error(`emitted ${kind} violates the official schema: ${JSON.stringify(toFieldErrors(fn.errors))}\n${JSON.stringify(doc).slice(0, 600)}`);
  }
}

/** True when the official schemas are loaded (it throws otherwise: the check never turns itself off). */
export function contractCheckEnabled(): boolean {
  return load().size > 0;
}

let protocolTypes: ReadonlySet<string> | undefined;

/**
 * True for an event type of the official `RunEventType` catalog; false for a vendor-extension
 * event (`acme.thing.happened`), which clients must ignore — so scenarios that assert an exact
 * sequence of events filter with this and hold for any host.
 */
export function isProtocolEventType(type: string): boolean {
  protocolTypes ??= new Set(
    (JSON.parse(readFileSync(join(schemasDir, 'run-event.schema.json'), 'utf8')) as { $defs: { RunEventType: { enum: string[] } } }).$defs.RunEventType.enum,
  );
  return protocolTypes.has(type);
}
