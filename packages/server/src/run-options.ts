/**
 * Run-option checks that need the host's configuration, made before a run exists (decision
 * 0026): `configurable.mockProvider` is for test keys only (403 `mock_provider_forbidden`) and
 * must name a mock provider of this host (400 `unsupported_mock_provider`); `configurable.ai`
 * must name a configured provider and carry a reference, never key material. The engine checks
 * the shapes (`CONFIGURABLE_KEYS`).
 *
 * A **test key** is a configured API key (`WEFT_API_KEYS`) whose value starts with
 * `WEFT_TEST_KEY_PREFIX`; without that prefix configured there are no test keys, the mock
 * providers are refused for everyone and discovery carries no `testing` block.
 *
 * @see security-contract.md §1.3 (AUTH-22), §4.1 (SEC-01); wire-contract.md §5.5
 */
import { WeftError } from '@weft/contract';
import { MOCK_PROVIDER_IDS, mockProviderProblem } from '@weft/engine';
import { looksLikeJwt } from '@weft/security';
import { parseBearer } from './auth.js';
import type { HostConfig } from './config.js';

/** Credential-shaped strings offered where a reference belongs (never echoed). */
const KEY_SHAPED = /^(?:sk-|sk_|xai-|AIza|gh[pousr]_|glpat-|xox[abposr]-|Bearer\s)/;
const REF_RE = /^[A-Za-z0-9._-]{1,128}$/;

/** True when the request's bearer is a test key (see the module comment). */
export function isTestKey(config: Pick<HostConfig, 'testKeyPrefix'>, authorization: string | undefined): boolean {
  const prefix = config.testKeyPrefix;
  if (!prefix) return false;
  let token: string;
  try {
    token = parseBearer(authorization);
  } catch {
    return false;
  }
  return !looksLikeJwt(token) && token.startsWith(prefix);
}

/** Checks `configurable` against this host; throws the documented refusal. */
export function checkRunOptions(
  config: Pick<HostConfig, 'testKeyPrefix' | 'aiProviders'>,
  authorization: string | undefined,
  configurable: Record<string, unknown> | undefined,
): void {
  if (!configurable) return;
  const mock = configurable.mockProvider;
  if (mock !== undefined) {
    if (!isTestKey(config, authorization)) throw new WeftError('mock_provider_forbidden', 'configurable.mockProvider needs a test key.');
    if (mockProviderProblem(mock))
      throw new WeftError('unsupported_mock_provider', 'configurable.mockProvider names no mock provider of this host, or its config is invalid.', {
        supported: [...MOCK_PROVIDER_IDS],
      });
  }
  const ai = configurable.ai;
  if (ai && typeof ai === 'object' && !Array.isArray(ai)) {
    const { provider, credentialRef } = ai as Record<string, unknown>;
    if (typeof provider === 'string' && provider !== 'mock' && !config.aiProviders.some((p) => p.id === provider.toLowerCase()))
      throw new WeftError('validation_error', 'configurable.ai.provider names no configured provider.', {
        errors: [{ path: '/configurable/ai/provider', message: 'not in aiProviders.supported' }],
      });
    if (typeof credentialRef === 'string' && (KEY_SHAPED.test(credentialRef) || !REF_RE.test(credentialRef)))
      throw new WeftError('validation_error', 'configurable.ai.credentialRef must be a vault reference, never key material.', {
        errors: [{ path: '/configurable/ai/credentialRef', message: 'not a reference' }],
      });
  }
}
