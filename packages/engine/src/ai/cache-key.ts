/**
 * The LLM cache key (execution-semantics §3.3): SHA-256 (lowercase hex) of the RFC 8785 JCS
 * form of the semantic request tagged `recipe: "openwop-semantic-request-v2"`. Transport data
 * (timeouts, ids, credentials, tenant, run id, `stream`) is left out; absent fields are
 * omitted, never null; tools are sorted by name (UTF-16 code units) with parameter keys sorted
 * recursively (JCS sorts every object's keys). Not a security boundary: the invocation log that
 * stores outcomes under it is namespaced by tenant.
 */
import { createHash } from 'node:crypto';
import type { ChatRequest } from './types.js';

/**
 * RFC 8785 canonical JSON: object keys sorted by UTF-16 code units, no whitespace, numbers as
 * ECMAScript prints them (which is what JCS prescribes), strings as `JSON.stringify` escapes.
 */
export function jcs(v: unknown): string {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new TypeError('JCS cannot encode a non-finite number');
    return JSON.stringify(v) ?? 'null';
  }
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : jcs(x))).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${keys.map((k) => `${JSON.stringify(k)}:${jcs(o[k])}`).join(',')}}`;
}

/** The tagged semantic object the key is the digest of. */
export function semanticRequest(req: ChatRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {
    recipe: 'openwop-semantic-request-v2',
    provider: req.provider.toLowerCase(),
    model: req.model,
    messages: req.messages.map((m) => {
      const x: Record<string, unknown> = { role: m.role, content: m.content };
      if (m.name !== undefined) x.name = m.name;
      if (m.toolCallId !== undefined) x.toolCallId = m.toolCallId;
      return x;
    }),
  };
  if (req.tools && req.tools.length > 0) {
    out.tools = [...req.tools]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((t) =>
        t.description === undefined ? { name: t.name, parameters: t.parameters } : { name: t.name, description: t.description, parameters: t.parameters },
      );
  }
  if (req.temperature !== undefined) out.temperature = req.temperature;
  if (req.topP !== undefined) out.topP = req.topP;
  if (req.responseFormat !== undefined) out.responseFormat = req.responseFormat;
  if (req.maxOutputTokens !== undefined) out.maxOutputTokens = req.maxOutputTokens;
  if (req.stop !== undefined) out.stop = req.stop;
  if (req.seed !== undefined) out.seed = req.seed;
  return out;
}

/** The 64-hex-character cache key of a request. */
export function llmCacheKey(req: ChatRequest): string {
  return createHash('sha256')
    .update(jcs(semanticRequest(req)))
    .digest('hex');
}
