/**
 * The SSRF guard: which destinations the host's outbound HTTP may reach.
 *
 * A destination passes when its scheme is http or https, its port is allowed, its host name is
 * not an internal name, and **every** address the name resolves to is public. The guard
 * resolves once and hands back the validated address, which the client then connects to
 * (pinned): the socket never resolves the name again, so DNS rebinding between the check and
 * the connect cannot move the connection. IPv6 forms that embed an IPv4 address (IPv4-mapped,
 * IPv4-translated, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by the IPv4 address
 * they carry. Operators may permit blocked destinations with an allowlist of CIDRs, addresses,
 * `host:port` pairs and host names (`WEFT_OUTBOUND_ALLOW`).
 *
 * Ranges are matched with `node:net` `BlockList`; the only address arithmetic here is
 * reading the IPv4 address out of an embedding IPv6 address.
 *
 * @see security-contract.md §3.3 (WH-20, WH-21, WH-22), execution-semantics.md ctx table `httpClient`
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/** Why a destination was refused (a closed set; carried as `details.reason` of `ssrf_blocked`). */
export type SsrfReason =
  | 'scheme'
  | 'port'
  | 'internal-name'
  | 'metadata'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'shared-address'
  | 'unspecified'
  | 'multicast'
  | 'broadcast'
  | 'reserved';

/** A destination the guard refused. The message names the host the caller gave, never a resolved address. */
export class SsrfBlockedError extends Error {
  readonly code = 'ssrf_blocked';
  readonly reason: SsrfReason;
  constructor(reason: SsrfReason, message: string) {
    super(message);
    this.name = 'SsrfBlockedError';
    this.reason = reason;
  }
  /** Wire details: the reason only (no address, so the guard is no DNS oracle for internal names). */
  get details(): Record<string, unknown> {
    return { reason: this.reason };
  }
}

/** The name could not be resolved to any address. */
export class DnsLookupError extends Error {
  readonly code = 'fetch_failed';
  constructor(message: string) {
    super(message);
    this.name = 'DnsLookupError';
  }
  get details(): Record<string, unknown> {
    return { reason: 'dns' };
  }
}

/** One resolved address. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to all its addresses (tests inject one; the default is getaddrinfo). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

/** The system resolver (`dns.lookup`, so `/etc/hosts` applies as it does to every other client). */
export const systemResolver: Resolver = async (hostname) => {
  const all = await lookup(hostname, { all: true, verbatim: true });
  return all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

type Family = 'ipv4' | 'ipv6';
const familyOf = (address: string): Family => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/** Blocked ranges in the order they are reported: the most specific reason first. */
const BLOCKED: readonly [SsrfReason, readonly string[]][] = [
  // Cloud metadata endpoints, some of which sit in public space (Azure's wireserver).
  ['metadata', ['169.254.169.254/32', '169.254.170.2/32', '168.63.129.16/32', '100.100.100.200/32', 'fd00:ec2::254/128']],
  ['broadcast', ['255.255.255.255/32']],
  ['unspecified', ['0.0.0.0/8', '::/128']],
  ['loopback', ['127.0.0.0/8', '::1/128']],
  ['private', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7', 'fec0::/10', '64:ff9b:1::/48']],
  ['link-local', ['169.254.0.0/16', 'fe80::/10']],
  ['shared-address', ['100.64.0.0/10']],
  ['multicast', ['224.0.0.0/4', 'ff00::/8']],
  [
    'reserved',
    [
      '192.0.0.0/24',
      '192.0.2.0/24',
      '192.88.99.0/24',
      '198.18.0.0/15',
      '198.51.100.0/24',
      '203.0.113.0/24',
      '240.0.0.0/4',
      // IPv4-compatible (deprecated), discard-only, Teredo, benchmarking, documentation.
      '::/96',
      '100::/64',
      '2001::/32',
      '2001:2::/48',
      '2001:db8::/32',
      '3fff::/20',
    ],
  ],
];

const BLOCKLISTS: readonly [SsrfReason, BlockList][] = BLOCKED.map(([reason, cidrs]) => {
  const list = new BlockList();
  for (const c of cidrs) {
    const [net, prefix] = c.split('/') as [string, string];
    list.addSubnet(net, Number(prefix), familyOf(net));
  }
  return [reason, list];
});

/** Names that always mean "this host" or "the cloud's metadata service". */
const BLOCKED_NAMES: ReadonlyMap<string, SsrfReason> = new Map([
  ['localhost', 'loopback'],
  ['metadata', 'metadata'],
  ['metadata.google.internal', 'metadata'],
  ['metadata.goog', 'metadata'],
  ['instance-data', 'metadata'],
]);
/** Suffixes of names that only resolve inside a network (never meant for the public internet). */
const BLOCKED_SUFFIXES = ['.localhost', '.local', '.internal', '.cluster', '.localdomain', '.home.arpa'];

/** The 16 bytes of an IPv6 address (`isIP(a) === 6` already checked). */
function ipv6Bytes(address: string): Uint8Array {
  let s = address.split('%')[0] as string;
  const out = new Uint8Array(16);
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted?.[1]) {
    const parts = dotted[1].split('.').map(Number);
    out.set(parts, 12);
    s = `${s.slice(0, -dotted[1].length)}0:0`;
  }
  const [head = '', tail] = s.split('::');
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  all.forEach((g, i) => {
    if (i < 6 || !dotted) {
      out[i * 2] = g >> 8;
      out[i * 2 + 1] = g & 0xff;
    }
  });
  return out;
}

const v4At = (b: Uint8Array, i: number): string => `${b[i]}.${b[i + 1]}.${b[i + 2]}.${b[i + 3]}`;
const zeros = (b: Uint8Array, from: number, to: number): boolean => b.subarray(from, to).every((x) => x === 0);

/**
 * The IPv4 address an IPv6 address carries, if it is one of the embedding forms a network may
 * route to that IPv4 address: IPv4-mapped `::ffff:a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d`,
 * NAT64 `64:ff9b::a.b.c.d`, or 6to4 `2002:aabb:ccdd::`.
 */
export function embeddedIpv4(address: string): string | undefined {
  if (isIP(address) !== 6) return undefined;
  const b = ipv6Bytes(address);
  if (zeros(b, 0, 10) && b[10] === 0xff && b[11] === 0xff) return v4At(b, 12);
  if (zeros(b, 0, 8) && b[8] === 0xff && b[9] === 0xff && zeros(b, 10, 12)) return v4At(b, 12);
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(b, 4, 12)) return v4At(b, 12);
  if (b[0] === 0x20 && b[1] === 0x02) return v4At(b, 2);
  return undefined;
}

/**
 * Why an address must not be reached, or undefined when it is public. An IPv6 address is
 * checked as itself and, when it embeds one, as its IPv4 address.
 */
export function blockedReason(address: string): SsrfReason | undefined {
  const fam = isIP(address);
  if (fam === 0) return 'reserved';
  const family: Family = fam === 6 ? 'ipv6' : 'ipv4';
  for (const [reason, list] of BLOCKLISTS) if (list.check(address, family)) return reason;
  const v4 = embeddedIpv4(address);
  if (v4) for (const [reason, list] of BLOCKLISTS) if (list.check(v4, 'ipv4')) return reason;
  return undefined;
}

/** Why a host name is refused before it is resolved, or undefined. `name` is lower case without a trailing dot. */
export function blockedNameReason(name: string): SsrfReason | undefined {
  const exact = BLOCKED_NAMES.get(name);
  if (exact) return exact;
  return BLOCKED_SUFFIXES.some((s) => name.endsWith(s)) ? 'internal-name' : undefined;
}

/** One operator allowlist entry. */
type AllowEntry =
  | { kind: 'addresses'; list: BlockList; port?: number; text: string }
  | { kind: 'name'; name: string; wildcard: boolean; port?: number; text: string };

const portOf = (raw: string, entry: string): number => {
  const n = Number(raw);
  if (!/^\d{1,5}$/.test(raw) || n < 1 || n > 65535) throw new Error(`WEFT_OUTBOUND_ALLOW entry ${entry}: port must be 1..65535`);
  return n;
};
const NAME = /^(\*\.)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

function addressEntry(address: string, prefix: number | undefined, text: string, port?: number): AllowEntry {
  const fam = familyOf(address);
  const list = new BlockList();
  if (prefix === undefined) list.addAddress(address, fam);
  else {
    const max = fam === 'ipv6' ? 128 : 32;
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new Error(`WEFT_OUTBOUND_ALLOW entry ${text}: prefix must be 0..${max}`);
    list.addSubnet(address, prefix, fam);
  }
  return port === undefined ? { kind: 'addresses', list, text } : { kind: 'addresses', list, port, text };
}

/**
 * Parses `WEFT_OUTBOUND_ALLOW`: comma- or space-separated entries, each a CIDR (`10.1.0.0/16`,
 * `fd00::/8`), an address (`127.0.0.1`, `::1`), an address with a port (`127.0.0.1:8080`,
 * `[::1]:8080`), a host name (`api.corp.example`, `*.corp.example`) or a host name with a port
 * (`metadata.google.internal:80`).
 * @throws Error naming the malformed entry.
 */
export function parseOutboundAllow(raw: string | readonly string[] | undefined): AllowEntry[] {
  if (raw === undefined) return [];
  const items = typeof raw === 'string' ? raw.split(/[\s,]+/) : [...raw];
  return items
    .map((s) => s.trim())
    .filter(Boolean)
    .map((text): AllowEntry => {
      const lower = text.toLowerCase();
      const slash = lower.indexOf('/');
      if (slash >= 0) {
        const addr = lower.slice(0, slash);
        if (isIP(addr) === 0) throw new Error(`WEFT_OUTBOUND_ALLOW entry ${text}: not a CIDR`);
        return addressEntry(addr, Number(lower.slice(slash + 1)), text);
      }
      if (isIP(lower) !== 0) return addressEntry(lower, undefined, text);
      const bracketed = /^\[([0-9a-f:.]+)\](?::(\d+))?$/.exec(lower);
      if (bracketed?.[1]) {
        if (isIP(bracketed[1]) !== 6) throw new Error(`WEFT_OUTBOUND_ALLOW entry ${text}: not an IPv6 address`);
        return addressEntry(bracketed[1], undefined, text, bracketed[2] ? portOf(bracketed[2], text) : undefined);
      }
      const colon = lower.lastIndexOf(':');
      const host = colon >= 0 ? lower.slice(0, colon) : lower;
      const port = colon >= 0 ? portOf(lower.slice(colon + 1), text) : undefined;
      if (isIP(host) === 4) return addressEntry(host, undefined, text, port);
      const name = host.replace(/\.$/, '');
      if (!NAME.test(name)) throw new Error(`WEFT_OUTBOUND_ALLOW entry ${text}: not a CIDR, address or host name`);
      const wildcard = name.startsWith('*.');
      const entry: AllowEntry = { kind: 'name', name: wildcard ? name.slice(1) : name, wildcard, text };
      if (port !== undefined) entry.port = port;
      return entry;
    });
}

/**
 * Parses `WEFT_OUTBOUND_PORTS`: comma-separated ports and ranges (`80,443,1024-65535`), or `*`
 * for every port.
 * @throws Error when malformed.
 */
export function parsePortPolicy(raw: string | undefined): (port: number) => boolean {
  const text = raw === undefined || raw.trim() === '' ? DEFAULT_PORTS : raw.trim();
  if (text === '*') return () => true;
  const ranges = text.split(',').map((part) => {
    const m = /^\s*(\d{1,5})(?:\s*-\s*(\d{1,5}))?\s*$/.exec(part);
    const lo = Number(m?.[1]);
    const hi = m?.[2] === undefined ? lo : Number(m[2]);
    if (!m || lo < 1 || hi > 65535 || lo > hi) throw new Error('WEFT_OUTBOUND_PORTS must be ports and ranges like 80,443,1024-65535, or *');
    return [lo, hi] as const;
  });
  return (port) => ranges.some(([lo, hi]) => port >= lo && port <= hi);
}

/** Default port policy: the web ports plus every unprivileged port (no SSH, SMTP, … on other hosts). */
export const DEFAULT_PORTS = '80,443,1024-65535';

/** What the guard approved: connect to `address` (never resolve `hostname` again). */
export interface ApprovedDestination {
  url: URL;
  /** The host as the URL names it (no brackets). */
  hostname: string;
  port: number;
  address: string;
  family: 4 | 6;
}

/** Configuration of a {@link SsrfGuard}. */
export interface SsrfGuardOptions {
  /** Operator allowlist (`WEFT_OUTBOUND_ALLOW` syntax, or parsed entries). */
  allow?: string | readonly string[];
  /** Port policy (`WEFT_OUTBOUND_PORTS` syntax); default {@link DEFAULT_PORTS}. */
  ports?: string;
  /** Name resolution; default {@link systemResolver}. */
  resolver?: Resolver;
}

/**
 * Checks destinations and resolves them once. `check()` either returns the one address to
 * connect to or throws {@link SsrfBlockedError} / {@link DnsLookupError}.
 */
export class SsrfGuard {
  private readonly allow: AllowEntry[];
  private readonly portAllowed: (port: number) => boolean;
  private readonly resolver: Resolver;

  constructor(opts: SsrfGuardOptions = {}) {
    this.allow = parseOutboundAllow(opts.allow);
    this.portAllowed = parsePortPolicy(opts.ports);
    this.resolver = opts.resolver ?? systemResolver;
  }

  private nameAllowed(name: string, port: number): AllowEntry | undefined {
    return this.allow.find((e) => e.kind === 'name' && (e.port === undefined || e.port === port) && (e.wildcard ? name.endsWith(e.name) : name === e.name));
  }

  private addressAllowed(address: string, port: number): AllowEntry | undefined {
    return this.allow.find((e) => e.kind === 'addresses' && (e.port === undefined || e.port === port) && e.list.check(address, familyOf(address)));
  }

  /**
   * Validates `url` and resolves its host: scheme http/https, port policy (an allowlist entry
   * naming the port overrides it), internal names, then every resolved address.
   * @throws SsrfBlockedError when any part is refused; DnsLookupError when nothing resolves.
   */
  async check(url: URL): Promise<ApprovedDestination> {
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new SsrfBlockedError('scheme', `Scheme ${url.protocol} is not allowed; use http or https.`);
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const name = hostname.toLowerCase().replace(/\.$/, '');
    const literal = isIP(name) !== 0;
    const byName = literal ? undefined : this.nameAllowed(name, port);
    if (!literal && !byName) {
      const reason = blockedNameReason(name);
      if (reason) throw new SsrfBlockedError(reason, `Host ${name} is an internal name and is not allowed.`);
    }
    let addresses: ResolvedAddress[];
    if (literal) addresses = [{ address: name, family: isIP(name) === 6 ? 6 : 4 }];
    else {
      try {
        addresses = await this.resolver(name);
      } catch {
        throw new DnsLookupError(`Host ${name} could not be resolved.`);
      }
      if (addresses.length === 0) throw new DnsLookupError(`Host ${name} could not be resolved.`);
    }
    // The port passes by policy, by a name entry naming it, or when every address is permitted
    // by an address entry naming it.
    let portPermitted = this.portAllowed(port) || byName?.port === port;
    let everyAddressNamesPort = true;
    for (const a of addresses) {
      const byAddress = this.addressAllowed(a.address, port);
      if (byAddress?.port !== port) everyAddressNamesPort = false;
      if (byName || byAddress) continue;
      const reason = blockedReason(a.address);
      if (reason) {
        throw new SsrfBlockedError(
          reason,
          literal ? `Address ${name} is a ${reason} address and is not allowed.` : `Host ${name} is not allowed: it resolves to a ${reason} address.`,
        );
      }
    }
    portPermitted ||= everyAddressNamesPort;
    if (!portPermitted) throw new SsrfBlockedError('port', `Port ${port} is not allowed for outbound requests.`);
    const first = addresses[0] as ResolvedAddress;
    return { url, hostname, port, address: first.address, family: first.family };
  }
}
