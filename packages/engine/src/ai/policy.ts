/**
 * Provider policy (security-contract §5.3) and model capabilities (the `modelCapabilities`
 * dispatch gate). Pure: the nodes call these before every LLM dispatch and record the decision.
 */
import type { AiProviderConfig, PolicyMode } from './types.js';

/** The policy decision recorded as `policy.decision`. */
export interface PolicyDecision {
  provider: string;
  mode: PolicyMode;
  decision: 'permit' | 'deny';
  /** Where the mode came from (Weft has one layer: the host's provider configuration). */
  modeScope: 'host';
  reason?: 'provider_disabled' | 'byok_required' | 'model_not_allowed';
  /** For `model_not_allowed`: the allowed globs. */
  allowed?: string[];
}

/** `*` globs, case-sensitive, anchored. */
export function globMatch(glob: string, s: string): boolean {
  const re = new RegExp(
    `^${glob
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(s);
}

/**
 * The decision for calling `model` on `cfg`. `byok` says whether the call brings its own
 * (node-level) credential reference; under `required` a host key is not enough. Unresolvable
 * BYOK references fail later, at resolution, with `byok_required_but_unresolved`.
 */
export function decidePolicy(cfg: AiProviderConfig, model: string, byok: boolean): PolicyDecision {
  const mode: PolicyMode = cfg.policy?.mode ?? 'optional';
  const base = { provider: cfg.id, mode, modeScope: 'host' as const };
  if (mode === 'disabled') return { ...base, decision: 'deny', reason: 'provider_disabled' };
  if (mode === 'required' && !byok) return { ...base, decision: 'deny', reason: 'byok_required' };
  if (mode === 'restricted') {
    const allowed = cfg.policy?.allowedModels ?? [];
    if (!allowed.some((g) => globMatch(g, model))) return { ...base, decision: 'deny', reason: 'model_not_allowed', allowed };
  }
  return { ...base, decision: 'permit' };
}

/** The model capability identifiers the spec reserves (plus `tool-calling`, Weft's alias of function-calling). */
export const RESERVED_CAPABILITIES: ReadonlySet<string> = new Set([
  'structured-output',
  'discriminator-enum',
  'long-context',
  'reasoning',
  'function-calling',
  'tool-calling',
  'streaming',
]);

/**
 * The capabilities of `required` that `model` on `cfg` lacks. An identifier outside the
 * reserved set (and not `x-host-weft-*`) is never provided. A model with declared capabilities
 * (`models[model]`, else `models['*']`) must list each; a provider that declares none is taken
 * at its word for the reserved ones.
 */
export function missingCapabilities(cfg: AiProviderConfig, model: string, required: readonly string[]): string[] {
  const declared = cfg.models?.[model]?.capabilities ?? cfg.models?.['*']?.capabilities;
  return required.filter((c) => {
    if (!RESERVED_CAPABILITIES.has(c) && !c.startsWith('x-host-weft-')) return true;
    if (declared === undefined) return false;
    const alias = c === 'tool-calling' ? 'function-calling' : c === 'function-calling' ? 'tool-calling' : c;
    return !declared.includes(c) && !declared.includes(alias);
  });
}
