/**
 * What `POST /v1/runs` hands the engine, checked before a run exists: inputs typed against the
 * workflow's variables (defaults applied), credential-shaped values scrubbed, and
 * `configurable` checked against the workflow's schema or the reserved keys.
 */
import { compileValidator, createAjv, WeftError, type WorkflowDefinition } from '@weft/contract';
import type { RecordRedactor } from '../ports.js';

/** Reserved `configurable` keys this host enforces, with their shape. */
export const CONFIGURABLE_KEYS = {
  recursionLimit: { type: 'integer', min: 1, description: 'Cap on node executions for this run (min with limits.maxNodeExecutions).' },
  runTimeoutMs: { type: 'integer', min: 1, description: 'Wall-clock limit for this run in ms (min with limits.maxRunDurationMs).' },
} as const;

/** The fallback {@link RecordRedactor}: masks the JSON-escaped form of known values only. */
export class KnownValuesRedactor implements RecordRedactor {
  private readonly needles: string[];
  constructor(values: Iterable<string> = []) {
    this.needles = [...values].filter((s) => s.length >= 4).map((s) => JSON.stringify(s).slice(1, -1));
  }
  withSecrets(values: Iterable<string>): RecordRedactor {
    return new KnownValuesRedactor(values);
  }
  redactJson(json: string): string {
    let out = json;
    for (const n of this.needles) if (out.includes(n)) out = out.split(n).join('[REDACTED]');
    return out;
  }
  redact<T>(value: T): T {
    return value;
  }
}

const TYPE_CHECKS: Record<string, (v: unknown) => boolean> = {
  string: (v) => typeof v === 'string',
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  boolean: (v) => typeof v === 'boolean',
  object: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  array: (v) => Array.isArray(v),
};

/** Validates run inputs and `configurable`; caches compiled schemas by workflow hash. */
export class RunInputs {
  private readonly ajv = createAjv();
  private readonly configurableValidators = new Map<string, (v: unknown, what?: string) => unknown>();
  constructor(private readonly redactor: RecordRedactor) {}

  /**
   * Credential-shaped input values are scrubbed before the run row is written, so nodes see the
   * marker too; declared-sensitive inputs are kept for nodes (masked by name and scrubbed by
   * value in everything recorded instead).
   */
  redactInputs(def: WorkflowDefinition, inputs: Record<string, unknown>): Record<string, unknown> {
    const sensitive = new Set(def.variables.filter((v) => v.sensitive).map((v) => v.name));
    let out: Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(inputs)) {
      if (sensitive.has(k)) continue;
      const r = this.redactor.redact(v);
      if (r !== v) (out ??= { ...inputs })[k] = r;
    }
    return out ?? inputs;
  }

  seedVariables(def: WorkflowDefinition, inputs: Record<string, unknown>): Record<string, unknown> {
    const vars: Record<string, unknown> = {};
    const errors: { path: string; message: string }[] = [];
    for (const v of def.variables) if (v.defaultValue !== undefined) vars[v.name] = structuredClone(v.defaultValue);
    Object.assign(vars, inputs);
    for (const v of def.variables) {
      const val = vars[v.name];
      if (val === undefined) {
        if (v.required) errors.push({ path: `/inputs/${v.name}`, message: 'required input is missing' });
        continue;
      }
      const check = TYPE_CHECKS[v.type];
      if (check && !check(val)) errors.push({ path: `/inputs/${v.name}`, message: `must be of type ${v.type}` });
    }
    if (errors.length > 0) throw new WeftError('validation_error', 'The run inputs are invalid.', { errors });
    return vars;
  }

  checkConfigurable(hash: string, def: WorkflowDefinition, cfg: Record<string, unknown>): Record<string, unknown> {
    const errors: { path: string; message: string }[] = [];
    if (def.configurableSchema) {
      let validate = this.configurableValidators.get(hash);
      if (!validate) {
        try {
          validate = compileValidator<unknown>(def.configurableSchema, this.ajv);
        } catch {
          throw new WeftError('validation_error', 'The workflow configurableSchema cannot be compiled.', { workflowId: def.id });
        }
        this.configurableValidators.set(hash, validate);
      }
      try {
        validate(cfg, 'configurable object');
      } catch (e) {
        if (e instanceof WeftError) throw new WeftError('validation_error', 'configurable does not match the workflow configurableSchema.', e.details);
        throw e;
      }
    } else {
      for (const k of Object.keys(cfg)) if (!(k in CONFIGURABLE_KEYS)) errors.push({ path: `/configurable/${k}`, message: 'unknown configurable key' });
    }
    for (const [k, spec] of Object.entries(CONFIGURABLE_KEYS)) {
      const v = cfg[k];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < spec.min)
        errors.push({ path: `/configurable/${k}`, message: `must be an integer ≥ ${spec.min}` });
    }
    if (errors.length > 0) throw new WeftError('validation_error', 'The configurable object is invalid.', { errors });
    return cfg;
  }
}
