import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { buildDiscovery } from './discovery.js';
import { createOutbound } from './outbound-config.js';

const discovery = (env: NodeJS.ProcessEnv) => buildDiscovery({ config: loadConfig(env), version: '0.0.0', fixtures: [], runtimeCapabilities: [] });

describe('outbound configuration', () => {
  it('defaults: on, empty allowlist, web and unprivileged ports, 1 MiB, 30 s, 5 redirects', () => {
    expect(loadConfig({})).toMatchObject({
      outboundEnabled: true,
      outboundAllow: [],
      outboundPorts: '80,443,1024-65535',
      outboundMaxBodyBytes: 1_048_576,
      outboundTimeoutMs: 30_000,
      outboundMaxRedirects: 5,
    });
  });

  it('reads every WEFT_OUTBOUND_* variable', () => {
    const c = loadConfig({
      WEFT_OUTBOUND_ALLOW: '10.0.0.0/8, api.corp.example:8443 127.0.0.1:9000',
      WEFT_OUTBOUND_PORTS: '443',
      WEFT_OUTBOUND_MAX_BODY_BYTES: '2048',
      WEFT_OUTBOUND_TIMEOUT_MS: '5000',
      WEFT_OUTBOUND_MAX_REDIRECTS: '0',
    });
    expect(c).toMatchObject({
      outboundAllow: ['10.0.0.0/8', 'api.corp.example:8443', '127.0.0.1:9000'],
      outboundPorts: '443',
      outboundMaxBodyBytes: 2048,
      outboundTimeoutMs: 5000,
      outboundMaxRedirects: 0,
    });
    expect(loadConfig({ WEFT_OUTBOUND: 'off' }).outboundEnabled).toBe(false);
  });

  it('refuses a malformed allowlist entry, port policy or limit at start, naming it', () => {
    expect(() => loadConfig({ WEFT_OUTBOUND_ALLOW: '10.0.0.0/40' })).toThrow(/WEFT_OUTBOUND_ALLOW entry 10.0.0.0\/40/);
    expect(() => loadConfig({ WEFT_OUTBOUND_PORTS: '80-20' })).toThrow(/WEFT_OUTBOUND_PORTS/);
    expect(() => loadConfig({ WEFT_OUTBOUND_TIMEOUT_MS: '0' })).toThrow(/WEFT_OUTBOUND_TIMEOUT_MS/);
    expect(() => loadConfig({ WEFT_OUTBOUND: 'maybe' })).toThrow(/WEFT_OUTBOUND must be on or off/);
    expect(() => loadConfig({}, { outboundAllow: ['not a host!'] })).toThrow(/WEFT_OUTBOUND_ALLOW/);
  });

  it('invariant: http-client-ssrf-guard — discovery advertises httpClient with the enforced limits only while the guarded client is on', () => {
    expect(discovery({ WEFT_OUTBOUND_MAX_BODY_BYTES: '4096', WEFT_OUTBOUND_TIMEOUT_MS: '7000' }).httpClient).toEqual({
      supported: true,
      ssrfGuard: true,
      maxResponseBodyBytes: 4096,
      requestTimeoutMs: 7000,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    });
    expect(discovery({ WEFT_OUTBOUND: 'off' }).httpClient).toBeUndefined();
    expect(createOutbound(loadConfig({ WEFT_OUTBOUND: 'off' }), 'weft')).toBeUndefined();
    const client = createOutbound(loadConfig({ WEFT_OUTBOUND_MAX_BODY_BYTES: '4096', WEFT_OUTBOUND_TIMEOUT_MS: '7000' }), 'weft');
    expect(client).toMatchObject({ maxResponseBytes: 4096, timeoutMs: 7000, maxRedirects: 5 });
  });
});
