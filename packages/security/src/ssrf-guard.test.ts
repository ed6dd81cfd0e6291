import { describe, expect, it } from 'vitest';
import {
  SsrfBlockedError,
  SsrfGuard,
  blockedNameReason,
  blockedReason,
  embeddedIpv4,
  parseOutboundAllow,
  parsePortPolicy,
  type ResolvedAddress,
  type Resolver,
} from './ssrf-guard.js';

/** A resolver answering from a table, counting calls per name. */
function tableResolver(table: Record<string, string[]>): Resolver & { calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const fn = async (name: string): Promise<ResolvedAddress[]> => {
    calls.set(name, (calls.get(name) ?? 0) + 1);
    const found = table[name];
    if (!found) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
    return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(fn, { calls });
}

async function refusal(guard: SsrfGuard, url: string): Promise<SsrfBlockedError> {
  const e = await guard.check(new URL(url)).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(SsrfBlockedError);
  return e as SsrfBlockedError;
}

/** One address per blocked range, with the reason it must be reported with. */
const BLOCKED_ADDRESSES: [string, string][] = [
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['10.0.0.1', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['169.254.0.1', 'link-local'],
  ['169.254.169.254', 'metadata'],
  ['169.254.170.2', 'metadata'],
  ['168.63.129.16', 'metadata'],
  ['100.100.100.200', 'metadata'],
  ['100.64.0.1', 'shared-address'],
  ['100.127.255.255', 'shared-address'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['255.255.255.255', 'broadcast'],
  ['240.0.0.1', 'reserved'],
  ['192.0.2.1', 'reserved'],
  ['198.18.0.1', 'reserved'],
  ['198.51.100.7', 'reserved'],
  ['203.0.113.9', 'reserved'],
  ['192.0.0.192', 'reserved'],
  ['::1', 'loopback'],
  ['::', 'unspecified'],
  ['fc00::1', 'private'],
  ['fd12:3456::1', 'private'],
  ['fe80::1', 'link-local'],
  ['febf::1', 'link-local'],
  ['fec0::1', 'private'],
  ['ff02::1', 'multicast'],
  ['fd00:ec2::254', 'metadata'],
  ['2001:db8::1', 'reserved'],
  ['2001:0:4136:e378::1', 'reserved'],
  ['100::1', 'reserved'],
  ['::7f00:1', 'reserved'],
  ['64:ff9b:1::a00:1', 'private'],
  // IPv6 forms that carry a blocked IPv4 address.
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::ffff:10.0.0.1', 'private'],
  ['::ffff:169.254.169.254', 'metadata'],
  ['::ffff:0:127.0.0.1', 'loopback'],
  ['64:ff9b::127.0.0.1', 'loopback'],
  ['64:ff9b::a9fe:a9fe', 'metadata'],
  ['2002:7f00:1::', 'loopback'],
  ['2002:c0a8:101::1', 'private'],
];

describe('SSRF guard: addresses', () => {
  it.each(BLOCKED_ADDRESSES)('invariant: http-client-ssrf-guard — refuses %s as %s', async (address, reason) => {
    expect(blockedReason(address)).toBe(reason);
    const host = address.includes(':') ? `[${address}]` : address;
    const e = await refusal(new SsrfGuard(), `http://${host}:8080/`);
    expect(e.reason).toBe(reason);
    expect(e.details).toEqual({ reason });
  });

  it.each(['93.184.216.34', '8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1'])(
    'lets the public address %s through',
    (address) => {
      expect(blockedReason(address)).toBeUndefined();
    },
  );

  it('reads the IPv4 address out of each embedding IPv6 form, and only those', () => {
    expect(embeddedIpv4('::ffff:192.168.0.1')).toBe('192.168.0.1');
    expect(embeddedIpv4('::ffff:c0a8:1')).toBe('192.168.0.1');
    expect(embeddedIpv4('::ffff:0:c0a8:1')).toBe('192.168.0.1');
    expect(embeddedIpv4('64:ff9b::c0a8:1')).toBe('192.168.0.1');
    expect(embeddedIpv4('2002:c0a8:1:0:1:2:3:4')).toBe('192.168.0.1');
    expect(embeddedIpv4('2606:4700::1')).toBeUndefined();
    expect(embeddedIpv4('10.0.0.1')).toBeUndefined();
  });

  it('invariant: http-client-ssrf-guard — URL spellings of loopback (hex, octal, decimal, short, mapped) are caught after normalisation', async () => {
    const guard = new SsrfGuard();
    for (const u of [
      'http://0x7f.1/',
      'http://0x7f000001/',
      'http://017700000001/',
      'http://2130706433/',
      'http://127.1/',
      'http://[::ffff:127.0.0.1]/',
      'http://[0:0:0:0:0:ffff:7f00:1]/',
    ]) {
      expect((await refusal(guard, u)).reason).toBe('loopback');
    }
  });
});

describe('SSRF guard: names, schemes, ports', () => {
  it.each([
    ['localhost', 'loopback'],
    ['LOCALHOST.', 'loopback'],
    ['api.localhost', 'internal-name'],
    ['metadata', 'metadata'],
    ['metadata.google.internal', 'metadata'],
    ['metadata.goog', 'metadata'],
    ['printer.local', 'internal-name'],
    ['db.internal', 'internal-name'],
    ['svc.default.cluster', 'internal-name'],
    ['router.home.arpa', 'internal-name'],
  ])('invariant: http-client-ssrf-guard — refuses the name %s before resolving it', async (name, reason) => {
    const resolver = tableResolver({ [name.toLowerCase().replace(/\.$/, '')]: ['93.184.216.34'] });
    const e = await refusal(new SsrfGuard({ resolver }), `http://${name}/`);
    expect(e.reason).toBe(reason);
    expect(resolver.calls.size).toBe(0);
    expect(blockedNameReason('example.com')).toBeUndefined();
  });

  it('invariant: http-client-ssrf-guard — refuses a name when any of its addresses is blocked, naming no address', async () => {
    const resolver = tableResolver({ 'mixed.example': ['93.184.216.34', '10.1.2.3'] });
    const e = await refusal(new SsrfGuard({ resolver }), 'https://mixed.example/');
    expect(e.reason).toBe('private');
    expect(e.message).not.toContain('10.1.2.3');
  });

  it('returns the first validated address to pin, and resolves once per check', async () => {
    const resolver = tableResolver({ 'api.example': ['93.184.216.34', '2606:2800:220:1::1'] });
    const d = await new SsrfGuard({ resolver }).check(new URL('https://api.example/x'));
    expect(d).toMatchObject({ hostname: 'api.example', port: 443, address: '93.184.216.34', family: 4 });
    expect(resolver.calls.get('api.example')).toBe(1);
  });

  it('invariant: http-client-ssrf-guard — only http and https pass', async () => {
    const guard = new SsrfGuard();
    for (const u of ['file:///etc/passwd', 'ftp://93.184.216.34/', 'gopher://93.184.216.34/', 'data:text/plain,hi', 'ws://93.184.216.34/']) {
      expect((await refusal(guard, u)).reason).toBe('scheme');
    }
  });

  it('invariant: http-client-ssrf-guard — the port policy refuses privileged ports other than 80 and 443 by default', async () => {
    const guard = new SsrfGuard();
    expect((await refusal(guard, 'http://93.184.216.34:22/')).reason).toBe('port');
    expect((await refusal(guard, 'http://93.184.216.34:25/')).reason).toBe('port');
    await expect(guard.check(new URL('http://93.184.216.34:8080/'))).resolves.toMatchObject({ port: 8080 });
    await expect(guard.check(new URL('https://93.184.216.34/'))).resolves.toMatchObject({ port: 443 });
    const open = new SsrfGuard({ ports: '*' });
    await expect(open.check(new URL('http://93.184.216.34:22/'))).resolves.toMatchObject({ port: 22 });
  });

  it('parses port policies and refuses malformed ones', () => {
    const p = parsePortPolicy('443, 8000-8999');
    expect([443, 8000, 8999, 80, 9000].map(p)).toEqual([true, true, true, false, false]);
    for (const bad of ['0', '70000', '10-5', 'http', '80;443']) expect(() => parsePortPolicy(bad)).toThrow(/WEFT_OUTBOUND_PORTS/);
  });
});

describe('SSRF guard: the operator allowlist', () => {
  it('invariant: http-client-ssrf-guard — a CIDR entry permits its addresses, and nothing else', async () => {
    const guard = new SsrfGuard({ allow: '10.20.0.0/16' });
    await expect(guard.check(new URL('http://10.20.3.4:8080/'))).resolves.toMatchObject({ address: '10.20.3.4' });
    await expect(guard.check(new URL('http://[::ffff:10.20.3.4]:8080/'))).resolves.toMatchObject({ port: 8080 });
    expect((await refusal(guard, 'http://10.21.0.1:8080/')).reason).toBe('private');
    expect((await refusal(guard, 'http://127.0.0.1:8080/')).reason).toBe('loopback');
  });

  it('invariant: http-client-ssrf-guard — an address:port entry permits that port only, even outside the port policy', async () => {
    const guard = new SsrfGuard({ allow: ['127.0.0.1:22', '[::1]:9000'] });
    await expect(guard.check(new URL('http://127.0.0.1:22/'))).resolves.toMatchObject({ address: '127.0.0.1', port: 22 });
    await expect(guard.check(new URL('http://[::1]:9000/'))).resolves.toMatchObject({ address: '::1' });
    expect((await refusal(guard, 'http://127.0.0.1:23/')).reason).toBe('loopback');
    expect((await refusal(guard, 'http://[::1]:9001/')).reason).toBe('loopback');
  });

  it('invariant: http-client-ssrf-guard — a name entry permits that name (and its private addresses), and a metadata name only when listed', async () => {
    const resolver = tableResolver({
      'metadata.google.internal': ['169.254.169.254'],
      'billing.corp.example': ['10.9.9.9'],
      'other.corp.example': ['10.9.9.10'],
      'evil.example': ['169.254.169.254'],
    });
    const guard = new SsrfGuard({ resolver, allow: 'metadata.google.internal:80, billing.corp.example' });
    await expect(guard.check(new URL('http://metadata.google.internal/computeMetadata/v1/'))).resolves.toMatchObject({ address: '169.254.169.254' });
    expect((await refusal(guard, 'http://metadata.google.internal:8080/')).reason).toBe('metadata');
    await expect(guard.check(new URL('https://billing.corp.example/'))).resolves.toMatchObject({ address: '10.9.9.9' });
    expect((await refusal(guard, 'https://other.corp.example/')).reason).toBe('private');
    // The name entry trusts that name only: another name resolving to the same address is refused.
    expect((await refusal(guard, 'http://evil.example/')).reason).toBe('metadata');
    const wildcard = new SsrfGuard({ resolver, allow: '*.corp.example' });
    await expect(wildcard.check(new URL('https://other.corp.example/'))).resolves.toMatchObject({ address: '10.9.9.10' });
  });

  it('refuses malformed allowlist entries, naming them', () => {
    for (const bad of ['10.0.0.0/33', 'not a host!', '127.0.0.1:0', '[::1', 'fe80::/129', 'host:99999']) {
      expect(() => parseOutboundAllow(bad)).toThrow(/WEFT_OUTBOUND_ALLOW/);
    }
    expect(parseOutboundAllow('10.0.0.0/8, ::1 127.0.0.1:8080,[::1]:80,api.example:443,*.corp.example')).toHaveLength(6);
  });
});
