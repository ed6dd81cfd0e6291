import { describe, expect, it } from 'vitest';
import { checkRunOptions, isTestKey } from './run-options.js';

const config = { testKeyPrefix: 'weft_test_', aiProviders: [{ id: 'openai', kind: 'openai' as const, baseUrl: 'https://api.openai.com/v1' }] };
const bearer = (k: string) => `Bearer ${k}`;

describe('run options needing the host configuration', () => {
  it('a test key is a bearer starting with the prefix; there are none without a prefix', () => {
    expect(isTestKey(config, bearer('weft_test_abc0123456789abcdef'))).toBe(true);
    expect(isTestKey(config, bearer('prod-key-0123456789abcdef'))).toBe(false);
    expect(isTestKey({}, bearer('weft_test_abc0123456789abcdef'))).toBe(false);
    expect(isTestKey(config, undefined)).toBe(false);
  });

  it('mockProvider: 403 for a production key before the id is looked at, 400 for an unknown id', () => {
    const mock = { mockProvider: { id: 'stream-text', config: { tokens: ['a'] } } };
    expect(() => checkRunOptions(config, bearer('prod-key-0123456789abcdef'), mock)).toThrow(expect.objectContaining({ code: 'mock_provider_forbidden' }));
    expect(() => checkRunOptions(config, bearer('prod-key-0123456789abcdef'), { mockProvider: { id: 'nope' } })).toThrow(
      expect.objectContaining({ code: 'mock_provider_forbidden' }),
    );
    expect(() => checkRunOptions(config, bearer('weft_test_abc0123456789abcdef'), { mockProvider: { id: 'nope' } })).toThrow(
      expect.objectContaining({ code: 'unsupported_mock_provider' }),
    );
    expect(() => checkRunOptions(config, bearer('weft_test_abc0123456789abcdef'), mock)).not.toThrow();
  });

  it('configurable.ai: an unconfigured provider and key material as credentialRef are refused without echo', () => {
    expect(() => checkRunOptions(config, undefined, { ai: { provider: 'other' } })).toThrow(expect.objectContaining({ code: 'validation_error' }));
    const raw = 'sk-live-0123456789abcdefghij';
    try {
      checkRunOptions(config, undefined, { ai: { credentialRef: raw } });
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: 'validation_error' });
      expect(JSON.stringify({ m: (e as Error).message, d: (e as { details?: unknown }).details })).not.toContain(raw);
    }
    expect(() => checkRunOptions(config, undefined, { ai: { provider: 'openai', credentialRef: 'my-key' } })).not.toThrow();
  });
});
