/**
 * Configuration of the LLM providers the AI nodes may call (`WEFT_AI_PROVIDERS`, a JSON array).
 * Keys are never configured here: a provider names a vault reference (`credentialRef`) and the
 * node resolves it at execution time. Part of {@link HostConfig}; documented in
 * docs/operations.md and docs/agents.md.
 */
import type { AiProviderConfig } from '@weft/engine';

/** LLM provider settings (part of `HostConfig`). */
export interface AiConfig {
  /** The providers, in configuration order (`WEFT_AI_PROVIDERS`). */
  aiProviders: AiProviderConfig[];
  /**
   * `WEFT_TEST_KEY_PREFIX`: a configured API key whose value starts with it is a test key, the
   * only kind that may use `configurable.mockProvider` (decision 0026). Unset: no test keys.
   */
  testKeyPrefix?: string;
}

const ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const REF_RE = /^[A-Za-z0-9._-]{1,128}$/;
const RAW_KEY_FIELDS = ['apiKey', 'api_key', 'key', 'token', 'authorization', 'secret', 'password'];
const FIELDS = new Set(['id', 'kind', 'baseUrl', 'credentialRef', 'byok', 'policy', 'models', 'defaultModel', 'timeoutMs', 'apiVersion', 'pricing']);
const DEFAULT_BASE: Record<string, string> = { openai: 'https://api.openai.com/v1', anthropic: 'https://api.anthropic.com/v1' };

/**
 * Parses and checks `WEFT_AI_PROVIDERS`.
 * @throws Error naming the provider and field (never echoing a value).
 */
export function parseAiProviders(raw: string | undefined): AiProviderConfig[] {
  if (raw === undefined || raw.trim() === '') return [];
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch {
    throw new Error('WEFT_AI_PROVIDERS must be a JSON array of providers');
  }
  if (!Array.isArray(list)) throw new Error('WEFT_AI_PROVIDERS must be a JSON array of providers');
  const seen = new Set<string>();
  return list.map((p, i) => checkAiProvider(p, i, seen));
}

function checkAiProvider(p: unknown, i: number, seen: Set<string>): AiProviderConfig {
  const bad = (msg: string): Error => new Error(`WEFT_AI_PROVIDERS[${i}]: ${msg}`);
  if (!p || typeof p !== 'object' || Array.isArray(p)) throw bad('must be an object');
  const o = p as Record<string, unknown>;
  for (const f of RAW_KEY_FIELDS) if (f in o) throw bad(`${f} is refused: store the key in the vault and name it with credentialRef`);
  for (const k of Object.keys(o)) if (!FIELDS.has(k)) throw bad(`unknown field ${k}`);
  if (typeof o.id !== 'string' || !ID_RE.test(o.id) || o.id === 'mock') throw bad('id must match [a-z0-9][a-z0-9._-]{0,63} (not URL-shaped, not "mock")');
  if (seen.has(o.id)) throw bad(`duplicate id ${o.id}`);
  seen.add(o.id);
  if (o.kind !== 'openai' && o.kind !== 'anthropic') throw bad('kind must be openai or anthropic');
  const baseUrl = o.baseUrl ?? DEFAULT_BASE[o.kind];
  if (typeof baseUrl !== 'string') throw bad('baseUrl must be a string');
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    throw bad('baseUrl must be an absolute http(s) URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad('baseUrl must be an absolute http(s) URL');
  if (u.username || u.password) throw bad('baseUrl must not carry credentials');
  const cfg: AiProviderConfig = { id: o.id, kind: o.kind, baseUrl };
  if (o.credentialRef !== undefined) {
    if (typeof o.credentialRef !== 'string' || !REF_RE.test(o.credentialRef)) throw bad('credentialRef must be a vault secret id');
    cfg.credentialRef = o.credentialRef;
  }
  if (o.byok !== undefined) {
    if (typeof o.byok !== 'boolean') throw bad('byok must be a boolean');
    cfg.byok = o.byok;
  }
  if (o.policy !== undefined) {
    const pol = o.policy as Record<string, unknown>;
    if (!pol || typeof pol !== 'object' || !['disabled', 'optional', 'required', 'restricted'].includes(String(pol.mode)))
      throw bad('policy.mode must be disabled, optional, required or restricted');
    const allowed = pol.allowedModels;
    if (allowed !== undefined && (!Array.isArray(allowed) || allowed.some((g) => typeof g !== 'string')))
      throw bad('policy.allowedModels must be an array of globs');
    if (pol.mode === 'required' && !cfg.byok) throw bad('policy.mode required needs byok: true');
    cfg.policy = { mode: pol.mode as NonNullable<AiProviderConfig['policy']>['mode'], ...(allowed ? { allowedModels: allowed as string[] } : {}) };
  }
  if (o.models !== undefined) {
    if (!o.models || typeof o.models !== 'object' || Array.isArray(o.models)) throw bad('models must be an object of {capabilities}');
    const models: NonNullable<AiProviderConfig['models']> = {};
    for (const [m, v] of Object.entries(o.models as Record<string, unknown>)) {
      const caps = (v as Record<string, unknown> | null)?.capabilities;
      if (caps !== undefined && (!Array.isArray(caps) || caps.some((c) => typeof c !== 'string'))) throw bad(`models.${m}.capabilities must be strings`);
      models[m] = caps ? { capabilities: caps as string[] } : {};
    }
    cfg.models = models;
  }
  if (o.defaultModel !== undefined) {
    if (typeof o.defaultModel !== 'string' || o.defaultModel === '') throw bad('defaultModel must be a string');
    cfg.defaultModel = o.defaultModel;
  }
  if (o.timeoutMs !== undefined) {
    if (typeof o.timeoutMs !== 'number' || !Number.isInteger(o.timeoutMs) || o.timeoutMs < 100) throw bad('timeoutMs must be an integer ≥ 100');
    cfg.timeoutMs = o.timeoutMs;
  }
  if (o.apiVersion !== undefined) {
    if (typeof o.apiVersion !== 'string') throw bad('apiVersion must be a string');
    cfg.apiVersion = o.apiVersion;
  }
  if (o.pricing !== undefined) {
    const pr = o.pricing as Record<string, unknown>;
    if (!pr || typeof pr.inputPerMTok !== 'number' || typeof pr.outputPerMTok !== 'number') throw bad('pricing needs inputPerMTok and outputPerMTok numbers');
    cfg.pricing = { inputPerMTok: pr.inputPerMTok, outputPerMTok: pr.outputPerMTok };
  }
  return cfg;
}

/** Reads the AI settings from the environment. */
export function loadAiConfig(env: NodeJS.ProcessEnv): AiConfig {
  const prefix = env.WEFT_TEST_KEY_PREFIX;
  if (prefix !== undefined && prefix !== '' && !/^[A-Za-z0-9._-]{4,32}$/.test(prefix))
    throw new Error('WEFT_TEST_KEY_PREFIX must be 4 to 32 characters of [A-Za-z0-9._-]');
  return { aiProviders: parseAiProviders(env.WEFT_AI_PROVIDERS), ...(prefix ? { testKeyPrefix: prefix } : {}) };
}
