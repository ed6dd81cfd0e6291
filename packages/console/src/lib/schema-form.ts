/**
 * Form fields from a JSON Schema (an interrupt's `resumeSchema`, a workflow's variables): each
 * property of an object schema becomes one field; what cannot be a simple input (nested objects,
 * arrays, unions, untyped values) becomes a JSON text field. Pure, unit-tested in
 * schema-form.test.ts; the host validates the value again, and its answer is shown as written.
 */

type Json = Record<string, unknown>;

/** How a field is edited. */
export type FieldKind = 'text' | 'textarea' | 'password' | 'number' | 'integer' | 'boolean' | 'enum' | 'json';

/** One form field. */
export interface Field {
  name: string;
  label: string;
  kind: FieldKind;
  required: boolean;
  description?: string;
  options?: unknown[];
  /** The initial text of the input (`'true'`/`'false'` for a checkbox). */
  initial: string;
}

const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function kindOf(schema: Json): FieldKind {
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return 'enum';
  if (schema.const !== undefined) return 'enum';
  switch (schema.type) {
    case 'string':
      if (schema.writeOnly === true || schema.format === 'password') return 'password';
      return typeof schema.maxLength === 'number' && schema.maxLength <= 256 ? 'text' : 'textarea';
    case 'number':
      return 'number';
    case 'integer':
      return 'integer';
    case 'boolean':
      return 'boolean';
    default:
      return 'json';
  }
}

function initialText(kind: FieldKind, value: unknown): string {
  if (value === undefined) return kind === 'boolean' ? 'false' : '';
  if (kind === 'json') return JSON.stringify(value, null, 2);
  if (kind === 'enum') return JSON.stringify(value);
  return String(value);
}

/** The fields of an object schema, in property order. Properties in `skip` are left out. */
export function fieldsOf(schema: unknown, skip: readonly string[] = []): Field[] {
  if (!isRecord(schema) || !isRecord(schema.properties)) return [];
  const required = new Set(Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === 'string') : []);
  const out: Field[] = [];
  for (const [name, raw] of Object.entries(schema.properties)) {
    if (skip.includes(name)) continue;
    const prop = isRecord(raw) ? raw : {};
    const kind = kindOf(prop);
    const f: Field = {
      name,
      label: typeof prop.title === 'string' ? prop.title : name,
      kind,
      required: required.has(name),
      initial: initialText(kind, prop.default),
    };
    if (typeof prop.description === 'string') f.description = prop.description;
    if (kind === 'enum') f.options = Array.isArray(prop.enum) ? prop.enum : [prop.const];
    out.push(f);
  }
  return out;
}

/** The result of reading a form: the value, or one message per field that does not parse. */
export type ReadResult = { ok: true; value: Json } | { ok: false; errors: Record<string, string> };

/**
 * Turns the inputs' texts into a value: empty optional fields are left out, numbers and JSON are
 * parsed, enum options are matched back to their JSON values.
 */
export function readFields(fields: readonly Field[], texts: Readonly<Record<string, string>>): ReadResult {
  const value: Json = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const t = texts[f.name] ?? f.initial;
    if (f.kind === 'boolean') {
      value[f.name] = t === 'true';
      continue;
    }
    if (t.trim() === '') {
      if (f.required) errors[f.name] = `${f.label} is required.`;
      continue;
    }
    switch (f.kind) {
      case 'number':
      case 'integer': {
        const n = Number(t);
        if (!Number.isFinite(n) || (f.kind === 'integer' && !Number.isInteger(n)))
          errors[f.name] = `${f.label} must be ${f.kind === 'integer' ? 'an integer' : 'a number'}.`;
        else value[f.name] = n;
        break;
      }
      case 'enum':
      case 'json':
        try {
          value[f.name] = JSON.parse(t);
        } catch {
          if (f.kind === 'enum') value[f.name] = t;
          else errors[f.name] = `${f.label} must be JSON.`;
        }
        break;
      default:
        value[f.name] = t;
    }
  }
  return Object.keys(errors).length > 0 ? { ok: false, errors } : { ok: true, value };
}

/** The variables of a workflow definition as an object schema (its input schema). */
export function variablesSchema(
  variables: readonly { name: string; type: string; description?: string; required?: boolean; defaultValue?: unknown; sensitive?: boolean }[],
): Json {
  const properties: Json = {};
  const required: string[] = [];
  for (const v of variables) {
    const p: Json = { type: v.type };
    if (v.type === 'string') p.maxLength = 256;
    if (v.description) p.description = v.description;
    if (v.defaultValue !== undefined) p.default = v.defaultValue;
    if (v.sensitive) p.writeOnly = true;
    properties[v.name] = p;
    if (v.required) required.push(v.name);
  }
  return { type: 'object', properties, required };
}
