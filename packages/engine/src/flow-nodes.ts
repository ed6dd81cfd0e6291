/**
 * The reserved flow and variable nodes (execution-semantics §6.7): `core.start`, `core.end`,
 * `core.conditional`, `core.loop`, `core.parallel`, `core.merge`, `core.setVariable`,
 * `core.getVariable`. All are pure: no I/O, no effects, safe to re-execute.
 *
 * Settings come from the input port of the same name, else from config.
 */
import { canonicalJson, readPath } from './scheduler.js';
import { NodeError, type NodeContext, type NodeResult, type NodeType } from './nodes.js';

const setting = (ctx: NodeContext, key: string): unknown => (ctx.inputs[key] !== undefined ? ctx.inputs[key] : ctx.config[key]);

/** Predicate operators of `core.conditional`. */
export const CONDITIONAL_OPS = [
  'eq',
  'neq',
  'lt',
  'lte',
  'gt',
  'gte',
  'in',
  'contains',
  'starts-with',
  'ends-with',
  'regex',
  'exists',
  'not-exists',
  'truthy',
  'falsy',
] as const;

/** Longest string a `regex` predicate is tested against, and longest pattern (bounds backtracking cost). */
const REGEX_SUBJECT_MAX = 4096;
const REGEX_PATTERN_MAX = 256;

const bad = (ctx: NodeContext, message: string): NodeError => new NodeError('validation_error', `${ctx.typeId} ${message}`, { nodeId: ctx.nodeId });

function compare(a: unknown, b: unknown): number | undefined {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  return undefined;
}

/** Evaluates `{path, op, value}` against the node's inputs. */
export function evaluatePredicate(ctx: NodeContext, op: string, left: unknown, right: unknown): boolean {
  switch (op) {
    case 'eq':
      return canonicalJson(left) === canonicalJson(right);
    case 'neq':
      return canonicalJson(left) !== canonicalJson(right);
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte': {
      const c = compare(left, right);
      if (c === undefined) return false;
      return op === 'lt' ? c < 0 : op === 'lte' ? c <= 0 : op === 'gt' ? c > 0 : c >= 0;
    }
    case 'in':
      return Array.isArray(right) && right.some((r) => canonicalJson(r) === canonicalJson(left));
    case 'contains':
      if (typeof left === 'string') return typeof right === 'string' && left.includes(right);
      return Array.isArray(left) && left.some((x) => canonicalJson(x) === canonicalJson(right));
    case 'starts-with':
      return typeof left === 'string' && typeof right === 'string' && left.startsWith(right);
    case 'ends-with':
      return typeof left === 'string' && typeof right === 'string' && left.endsWith(right);
    case 'regex': {
      if (typeof right !== 'string' || right.length > REGEX_PATTERN_MAX)
        throw bad(ctx, `regex value must be a pattern of at most ${REGEX_PATTERN_MAX} characters`);
      let re: RegExp;
      try {
        re = new RegExp(right);
      } catch {
        throw bad(ctx, 'regex value is not a valid pattern');
      }
      return typeof left === 'string' && left.length <= REGEX_SUBJECT_MAX && re.test(left);
    }
    case 'exists':
      return left !== undefined && left !== null;
    case 'not-exists':
      return left === undefined || left === null;
    case 'truthy':
      return Boolean(left);
    case 'falsy':
      return !left;
    default:
      throw bad(ctx, `op must be one of ${CONDITIONAL_OPS.join(', ')}`);
  }
}

/**
 * `core.conditional`: `{path, op, value}` over the node's inputs; outputs `{branch: then|else,
 * matched, value}` — route downstream with edge conditions on `branch`.
 */
function conditional(ctx: NodeContext): NodeResult {
  const path = setting(ctx, 'path');
  const op = setting(ctx, 'op') ?? 'truthy';
  if (path !== undefined && typeof path !== 'string') throw bad(ctx, 'path must be a dotted path string');
  if (typeof op !== 'string') throw bad(ctx, 'op must be a string');
  const { op: _op, path: _path, value: right, ...rest } = ctx.inputs;
  const subject = path === undefined ? rest : readPath(rest, path);
  const matched = evaluatePredicate(ctx, op, subject, right !== undefined ? right : ctx.config.value);
  return { outputs: { branch: matched ? 'then' : 'else', matched, value: subject ?? null } };
}

/** Most iterations `core.loop` runs, whatever its config says. */
export const LOOP_ITERATION_CEILING = 10_000;

/**
 * `core.loop`: iterates over `items` (an array) or `times` (a count), at most `maxIterations`
 * (config, capped by {@link LOOP_ITERATION_CEILING}); outputs `{items: [{index, item}], count}`.
 * More items than the cap fail the node with `loop_limit_exceeded`.
 */
function loop(ctx: NodeContext): NodeResult {
  const items = setting(ctx, 'items');
  const times = setting(ctx, 'times');
  const capRaw = ctx.config.maxIterations ?? LOOP_ITERATION_CEILING;
  if (typeof capRaw !== 'number' || !Number.isInteger(capRaw) || capRaw < 1) throw bad(ctx, 'maxIterations must be a positive integer');
  const cap = Math.min(capRaw, LOOP_ITERATION_CEILING);
  let list: unknown[];
  if (Array.isArray(items)) list = items;
  else if (typeof times === 'number' && Number.isInteger(times) && times >= 0) list = Array.from({ length: Math.min(times, cap + 1) }, (_, i) => i);
  else throw bad(ctx, 'needs items (an array) or times (a non-negative integer)');
  const count = Array.isArray(items) ? items.length : (times as number);
  if (count > cap) {
    throw new NodeError('loop_limit_exceeded', `The loop needs ${count} iterations; its limit is ${cap}.`, { nodeId: ctx.nodeId, limit: cap, observed: count });
  }
  return { outputs: { items: list.map((item, index) => ({ index, item })), count } };
}

/** `core.parallel`: fan-out — passes its inputs to every outgoing edge. */
const parallel = (ctx: NodeContext): NodeResult => ({ outputs: { ...ctx.inputs } });

/**
 * `core.merge`: fan-in — runs once its incoming edges are settled (its trigger rule decides) and
 * outputs every input it received as `merged`, plus the inputs themselves.
 */
const merge = (ctx: NodeContext): NodeResult => ({ outputs: { ...ctx.inputs, merged: { ...ctx.inputs } } });

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

/** `core.setVariable`: sets run variable `name` to `value` (emits `variable.changed`). */
function setVariable(ctx: NodeContext): NodeResult {
  const name = ctx.config.name ?? ctx.inputs.name;
  if (typeof name !== 'string' || !VARIABLE_NAME.test(name)) throw bad(ctx, 'name must be a variable name');
  const value = setting(ctx, 'value');
  if (value === undefined) throw bad(ctx, 'needs a value');
  return { outputs: { name, value }, variables: { [name]: value } };
}

/** `core.getVariable`: outputs run variable `name` as `value` (`null` when unset). */
function getVariable(ctx: NodeContext): NodeResult {
  const name = ctx.config.name ?? ctx.inputs.name;
  if (typeof name !== 'string' || !VARIABLE_NAME.test(name)) throw bad(ctx, 'name must be a variable name');
  const value = ctx.variables[name];
  return { outputs: { name, value: value === undefined ? null : structuredClone(value) } };
}

/** Pass-through markers. */
const passThrough = (ctx: NodeContext): NodeResult => ({ outputs: { ...ctx.inputs } });

/** The flow and variable built-ins. */
export const FLOW_NODES: readonly NodeType[] = [
  { typeId: 'core.start', execute: passThrough },
  { typeId: 'core.end', execute: passThrough },
  { typeId: 'core.conditional', execute: conditional },
  { typeId: 'core.loop', execute: loop },
  { typeId: 'core.parallel', execute: parallel },
  { typeId: 'core.merge', execute: merge },
  { typeId: 'core.setVariable', execute: setVariable },
  { typeId: 'core.getVariable', execute: getVariable },
];
