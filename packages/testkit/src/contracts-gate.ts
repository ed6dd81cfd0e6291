/**
 * Whether the suites that read the official OpenWOP contracts run. The contracts are data read
 * at test time (never copied into the repository); a developer without them gets the other
 * suites and a note, but under `CI` a missing or incomplete contracts directory is an error,
 * so CI can never pass with the official-schema check silently off. vitest.config.ts calls it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** What must exist under the contracts directory for the schema check and the fixtures. */
export const REQUIRED_CONTRACTS: readonly string[] = [
  'conformance-fixtures',
  'schemas/capabilities.schema.json',
  'schemas/run-snapshot.schema.json',
  'schemas/run-event.schema.json',
  'schemas/error-envelope.schema.json',
  'schemas/audit-verify-result.schema.json',
];

/** The gate's verdict: run the contract suites, or skip them for `reason`. */
export type ContractsGate = { run: true } | { run: false; reason: string };

/**
 * Decides for `dir` and the environment; throws under `CI` (any non-empty value) when anything
 * of {@link REQUIRED_CONTRACTS} is missing.
 */
export function contractsGate(dir: string, env: Readonly<Record<string, string | undefined>>): ContractsGate {
  const missing = REQUIRED_CONTRACTS.filter((p) => !existsSync(join(dir, p)));
  if (missing.length === 0) return { run: true };
  const what = `the official OpenWOP contracts are not at ${dir} (missing ${missing.join(', ')})`;
  if (env.CI) throw new Error(`${what}: they are required under CI=true. Set WEFT_CONTRACTS_DIR to the directory holding schemas/ and conformance-fixtures/.`);
  return { run: false, reason: what };
}
