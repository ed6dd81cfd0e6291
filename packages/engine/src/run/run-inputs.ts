/**
 * What `POST /v1/runs` hands the engine, checked before a run exists: inputs typed against the
 * workflow's variables (defaults applied), credential-shaped values scrubbed, and
 * `configurable` checked against the workflow's schema or the reserved keys.
 */
import { compileValidator, createAjv, WeftError, type WorkflowDefinition } from '@weft/contract';
import type { RecordRedactor } from '../ports.js';

/** One reserved `configurable` key: its advertised shape and its check (a message when invalid). */
export interface ConfigurableKey {
  readonly type: 'integer' | 'number' | 'string' | 'object';
  readonly min?: number;
  readonly max?: number;
  readonly enum?: readonly string[];
  readonly description: string;
  check(v: unknown): string | undefined;
}

const intKey = (min: number, description: string): ConfigurableKey => ({
  type: 'integer',
  min,
  description,
  check: (v) => (typeof v === 'number' && Number.isInteger(v) && v >= min ? undefined : `must be an integer ≥ ${min}`),
});
const numKey = (min: number, max: number, description: string): ConfigurableKey => ({
  type: 'number',
  min,
  max,
  description,
  check: (v) => (typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max ? undefined : `must be a number in [${min}, ${max}]`),
});
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, max = 256): boolean => typeof v === 'string' && v.length > 0 && v.length <= max;

/** `configurable.ai` (wire-contract §5.5): overrides for the run's AI nodes; `credentialRef` is an opaque vault reference. */
function checkAi(v: unknown): string | undefined {
  if (!isObj(v)) return 'must be an object';
  for (const [k, x] of Object.entries(v)) {
    if (k === 'provider' || k === 'model' || k === 'credentialRef') {
      if (!str(x)) return `${k} must be a non-empty string of at most 256 characters`;
    } else if (k === 'temperature') {
      if (numKey(0, 2, '').check(x)) return 'temperature must be a number in [0, 2]';
    } else if (k === 'maxTokens') {
      if (intKey(1, '').check(x)) return 'maxTokens must be an integer ≥ 1';
    } else return `unknown key ${k.slice(0, 64)}`;
  }
  return undefined;
}

/** Reserved `configurable` keys this host enforces, with their shape. */
export const CONFIGURABLE_KEYS: Readonly<Record<string, ConfigurableKey>> = {
  recursionLimit: intKey(1, 'Cap on node executions for this run (min with limits.maxNodeExecutions).'),
  runTimeoutMs: intKey(1, 'Wall-clock limit for this run in ms (min with limits.maxRunDurationMs).'),
  maxLoopIterations: intKey(1, 'Cap on orchestrator turns for this run (min with limits.maxLoopIterations); breach: cap.breached loop-iterations.'),
  escalationThreshold: numKey(0, 1, 'Confidence below which a supervisor or agent decision is held for review (default 0.7).'),
  reasoningVerbosity: {
    type: 'string',
    enum: ['summary', 'full', 'off'],
    description: 'Verbosity of agent.reasoned events.',
    check: (v) => (v === 'summary' || v === 'full' || v === 'off' ? undefined : 'must be summary, full or off'),
  },
  model: {
    type: 'string',
    description: "Model for the run's AI nodes (below a node's own config).",
    check: (v) => (str(v) ? undefined : 'must be a non-empty string'),
  },
  temperature: numKey(0, 2, "Sampling temperature for the run's AI nodes."),
  maxTokens: intKey(1, "Output token cap for the run's AI nodes."),
  promptOverrides: {
    type: 'object',
    description: 'Prompt text by prompt id (an AI node config promptId, else its node id): replaces the node prompt.',
    check: (v) => (isObj(v) && Object.values(v).every((x) => typeof x === 'string' && x.length <= 100_000) ? undefined : 'must map prompt ids to strings'),
  },
  mockProvider: {
    type: 'object',
    description: "Routes the run's AI nodes to a mock provider of testing.mockProviders (test keys only).",
    check: (v) =>
      isObj(v) && str(v.id, 128) && Object.keys(v).every((k) => k === 'id' || k === 'config') && (v.config === undefined || isObj(v.config))
        ? undefined
        : 'must be {id, config?}',
  },
  ai: { type: 'object', description: "{provider?, model?, credentialRef?, temperature?, maxTokens?} for the run's AI nodes.", check: checkAi },
};

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
      const problem = spec.check(v);
      if (problem) errors.push({ path: `/configurable/${k}`, message: problem });
    }
    if (errors.length > 0) throw new WeftError('validation_error', 'The configurable object is invalid.', { errors });
    return cfg;
  }
}
