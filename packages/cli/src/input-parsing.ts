/**
 * Parsing of the values users type on the command line: `k=v` assignments for run inputs and
 * configurable overlays, and JSON objects.
 */
import { CliError } from './errors.js';

/**
 * Reads a typed value the way a shell user means it: anything that parses as JSON is that
 * JSON value (`42`, `true`, `null`, `{"a":1}`, `"quoted"`), everything else is the raw string.
 */
export function parseInputValue(raw: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return raw;
  }
  // `1e999` parses to Infinity, which JSON cannot carry: keep what the user typed.
  return typeof parsed === 'number' && !Number.isFinite(parsed) ? raw : parsed;
}

/** Splits `key=value` at the first `=`; the key must be non-empty. */
export function parseAssignment(raw: string, flag = '--input'): [string, unknown] {
  const at = raw.indexOf('=');
  if (at <= 0) throw new CliError('invalid_argument', `${flag} expects key=value, got "${raw.slice(0, 64)}"`);
  return [raw.slice(0, at), parseInputValue(raw.slice(at + 1))];
}

/** Commander accumulator for repeatable options (`--input a=1 --input b=2`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Parses a JSON text that must be an object (for `--inputs-json` and similar). */
export function parseJsonObject(raw: string, flag: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new CliError('invalid_argument', `${flag} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new CliError('invalid_argument', `${flag} must be a JSON object`);
  return parsed as Record<string, unknown>;
}

/**
 * Builds an object from a JSON base and `key=value` assignments; assignments win. Returns
 * `undefined` when neither was given, so the field can be left out of the request.
 */
export function buildObject(
  assignments: readonly string[] | undefined,
  json: string | undefined,
  flag: string,
  jsonFlag: string,
): Record<string, unknown> | undefined {
  if (!json && (!assignments || assignments.length === 0)) return undefined;
  const out: Record<string, unknown> = json ? parseJsonObject(json, jsonFlag) : {};
  for (const raw of assignments ?? []) {
    const [key, value] = parseAssignment(raw, flag);
    out[key] = value;
  }
  return out;
}

/** Parses a positive integer flag value. */
export function parsePositiveInt(raw: string, flag: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) throw new CliError('invalid_argument', `${flag} must be a positive integer`);
  return Number(raw);
}

/** Parses a JSON text of any type (for a raw `--value`). */
export function parseJsonValue(raw: string, flag: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch (err) {
    throw new CliError('invalid_argument', `${flag} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Builds clarification answers from `--answer id=text` (the text is kept as a string, since
 * people answer in words) over an optional `--answers-json` object (typed answers). At least
 * one answer is required.
 */
export function parseAnswers(assignments: readonly string[] | undefined, json: string | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = json ? parseJsonObject(json, '--answers-json') : {};
  for (const raw of assignments ?? []) {
    const at = raw.indexOf('=');
    if (at <= 0) throw new CliError('invalid_argument', `--answer expects questionId=answer, got "${raw.slice(0, 64)}"`);
    out[raw.slice(0, at)] = raw.slice(at + 1);
  }
  if (Object.keys(out).length === 0) throw new CliError('invalid_argument', 'give at least one --answer questionId=answer (or --answers-json)');
  return out;
}
