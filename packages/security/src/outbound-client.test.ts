import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboundClient, OutboundError, type OutboundClientOptions } from './outbound-client.js';
import type { ResolvedAddress } from './ssrf-guard.js';

/** What a loopback test server saw. */
interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

interface TestServer {
  server: Server;
  port: number;
  /** Requests answered, in order. */
  seen: Seen[];
  /** TCP connections accepted (a refused destination must leave this at 0). */
  connections: number;
  origin: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

async function listen(server: Server, host: string, handler: Handler): Promise<TestServer> {
  const t: TestServer = { server, port: 0, seen: [], connections: 0, origin: '' };
  server.on('connection', () => t.connections++);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      t.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  t.port = (server.address() as AddressInfo).port;
  t.origin = `http://${host}:${t.port}`;
  return t;
}

const json = (res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(value));
};

/** A resolver that answers `first` on its first call per name and `later` afterwards, counting calls. */
function flippingResolver(first: Record<string, string>, later: Record<string, string> = first) {
  const calls: string[] = [];
  const resolver = async (name: string): Promise<ResolvedAddress[]> => {
    const answer = (calls.includes(name) ? later : first)[name];
    calls.push(name);
    if (!answer) throw new Error('ENOTFOUND');
    return [{ address: answer, family: answer.includes(':') ? 6 : 4 }];
  };
  return { resolver, calls };
}

async function failure(p: Promise<unknown>): Promise<OutboundError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OutboundError);
  return e as OutboundError;
}

let echo: TestServer;
let other: TestServer;
let second: TestServer;
let hanging: TestServer;
const hangingSockets = new Set<Socket>();

beforeAll(async () => {
  const app =
    (name: string): Handler =>
    (req, res, body) => {
      const u = new URL(req.url ?? '/', 'http://x');
      if (u.pathname === '/redirect') {
        res.writeHead(Number(u.searchParams.get('status') ?? 302), { location: u.searchParams.get('to') ?? '/' });
        res.end();
        return;
      }
      if (u.pathname === '/loop') {
        res.writeHead(302, { location: '/loop' });
        res.end();
        return;
      }
      if (u.pathname === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(4096) });
        res.end(Buffer.alloc(4096, 1));
        return;
      }
      if (u.pathname === '/stream') {
        // No content-length: the cap must stop the read, not a declared length.
        res.writeHead(200, { 'content-type': 'text/plain' });
        for (let i = 0; i < 64; i++) res.write('x'.repeat(1024));
        res.end();
        return;
      }
      if (u.pathname === '/bomb') {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
        res.end(gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x61)));
        return;
      }
      if (u.pathname === '/gzip') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
        res.end(gzipSync(JSON.stringify({ zipped: true })));
        return;
      }
      json(res, 200, { server: name, method: req.method, path: req.url, headers: req.headers, body });
    };
  echo = await listen(createHttpServer(), '127.0.0.1', app('echo'));
  other = await listen(createHttpServer(), '127.0.0.1', app('other'));
  // Loopback but another address: never allowlisted, so a connection to it is a guard failure.
  second = await listen(createHttpServer(), '127.0.0.2', (_req, res) => json(res, 200, { second: true }));
  hanging = await listen(createHttpServer(), '127.0.0.1', () => undefined);
  hanging.server.on('connection', (s: Socket) => hangingSockets.add(s));
});

afterAll(async () => {
  for (const s of hangingSockets) s.destroy();
  for (const t of [echo, other, second, hanging]) await new Promise((r) => t.server.close(r));
});

const client = (opts: OutboundClientOptions = {}): OutboundClient => new OutboundClient({ allow: ['127.0.0.1/32'], ...opts });
const bodyJson = (b: Uint8Array): Record<string, unknown> => JSON.parse(Buffer.from(b).toString('utf8')) as Record<string, unknown>;

describe('outbound client: guarded requests', () => {
  it('sends method, headers and body to an allowlisted loopback target and returns status, headers and body', async () => {
    const res = await client().request({
      method: 'post',
      url: `${echo.origin}/echo?q=1`,
      headers: { 'content-type': 'application/json', 'x-trace': 'abc' },
      body: '{"a":1}',
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.redirects).toBe(0);
    expect(bodyJson(res.body)).toMatchObject({ method: 'POST', path: '/echo?q=1', body: '{"a":1}', headers: { 'x-trace': 'abc', 'content-length': '7' } });
  });

  it('invariant: http-client-ssrf-guard — a loopback target is refused without an allowlist and never connected to', async () => {
    const before = other.connections;
    const e = await failure(new OutboundClient().request({ method: 'GET', url: `${other.origin}/` }));
    expect(e.code).toBe('ssrf_blocked');
    expect(e.details).toEqual({ reason: 'loopback' });
    expect(other.connections).toBe(before);
  });

  it('invariant: ssrf-address-pinned — the connection goes to the validated address, the name is resolved once (DNS rebinding)', async () => {
    const flip = flippingResolver({ 'rebind.test': '127.0.0.1' }, { 'rebind.test': '127.0.0.2' });
    const before = second.connections;
    const res = await client({ resolver: flip.resolver }).request({ method: 'GET', url: `http://rebind.test:${echo.port}/pinned` });
    expect(res.status).toBe(200);
    // The request reached the first (validated) address with the name as Host.
    expect(bodyJson(res.body)).toMatchObject({ path: '/pinned', headers: { host: `rebind.test:${echo.port}` } });
    expect(flip.calls).toEqual(['rebind.test']);
    expect(second.connections).toBe(before);
  });

  it('invariant: ssrf-address-pinned — a name whose first answer is blocked is refused, whatever a second answer would say', async () => {
    const flip = flippingResolver({ 'rebind.test': '127.0.0.2' }, { 'rebind.test': '127.0.0.1' });
    const before = second.connections;
    const e = await failure(client({ resolver: flip.resolver }).request({ method: 'GET', url: `http://rebind.test:${second.port}/` }));
    expect(e.code).toBe('ssrf_blocked');
    expect(flip.calls).toEqual(['rebind.test']);
    expect(second.connections).toBe(before);
  });

  it('refuses bad methods, URLs with credentials, upgrade and framing headers, and GET bodies', async () => {
    const c = client();
    expect((await failure(c.request({ method: 'TRACE', url: echo.origin }))).code).toBe('validation_error');
    expect((await failure(c.request({ method: 'GET', url: 'not a url' }))).code).toBe('validation_error');
    expect((await failure(c.request({ method: 'GET', url: `http://u:p@127.0.0.1:${echo.port}/` }))).code).toBe('validation_error');
    for (const h of ['upgrade', 'connection', 'host', 'transfer-encoding', 'content-length']) {
      expect((await failure(c.request({ method: 'GET', url: echo.origin, headers: { [h]: 'x' } }))).code).toBe('validation_error');
    }
    expect((await failure(c.request({ method: 'GET', url: echo.origin, headers: { 'x-a': 'a\r\nb' } }))).code).toBe('validation_error');
    expect((await failure(c.request({ method: 'GET', url: echo.origin, body: 'x' }))).code).toBe('validation_error');
    expect(echo.seen.filter((s) => s.url === '/' && s.method === 'TRACE')).toHaveLength(0);
  });
});

describe('outbound client: redirects', () => {
  it('invariant: ssrf-redirect-rechecked — a redirect to a blocked address is refused and never connected to', async () => {
    const c = client({ allow: [`127.0.0.1:${echo.port}`] });
    for (const to of [`${other.origin}/`, `http://[::ffff:127.0.0.1]:${other.port}/`, `http://0x7f.1:${other.port}/`, `http://127.0.0.2:${second.port}/`]) {
      const before = other.connections + second.connections;
      const e = await failure(c.request({ method: 'GET', url: `${echo.origin}/redirect?to=${encodeURIComponent(to)}` }));
      expect(e.code).toBe('ssrf_blocked');
      expect(other.connections + second.connections).toBe(before);
    }
    const meta = await failure(
      c.request({ method: 'GET', url: `${echo.origin}/redirect?to=${encodeURIComponent('http://169.254.169.254/latest/meta-data/')}` }),
    );
    expect(meta.details).toEqual({ reason: 'metadata' });
    const scheme = await failure(c.request({ method: 'GET', url: `${echo.origin}/redirect?to=${encodeURIComponent('file:///etc/passwd')}` }));
    expect(scheme.details).toEqual({ reason: 'scheme' });
  });

  it('follows allowed redirects, re-checking each hop; 303 becomes GET, 307 keeps method and body', async () => {
    const c = client();
    const to = encodeURIComponent(`${other.origin}/landed`);
    const r303 = await c.request({
      method: 'POST',
      url: `${echo.origin}/redirect?status=303&to=${to}`,
      body: 'payload',
      headers: { 'content-type': 'text/plain' },
    });
    expect(r303).toMatchObject({ status: 200, redirects: 1, url: `${other.origin}/landed` });
    expect(bodyJson(r303.body)).toMatchObject({ server: 'other', method: 'GET', body: '' });
    const r307 = await c.request({ method: 'POST', url: `${echo.origin}/redirect?status=307&to=${to}`, body: 'payload' });
    expect(bodyJson(r307.body)).toMatchObject({ method: 'POST', body: 'payload' });
  });

  it('invariant: outbound-credentials-same-origin — credential headers are dropped when a redirect leaves the origin, kept on the same origin', async () => {
    const c = client();
    const headers = { authorization: 'Bearer secret-token-value', cookie: 'sid=1', 'x-api-key': 'k', 'x-auth-token': 't', 'x-plain': 'keep' };
    const cross = await c.request({ method: 'GET', url: `${echo.origin}/redirect?to=${encodeURIComponent(`${other.origin}/x`)}`, headers });
    const seen = bodyJson(cross.body).headers as Record<string, string>;
    expect(seen['x-plain']).toBe('keep');
    for (const h of ['authorization', 'cookie', 'x-api-key', 'x-auth-token']) expect(seen[h]).toBeUndefined();
    const same = await c.request({ method: 'GET', url: `${echo.origin}/redirect?to=/same`, headers });
    expect(bodyJson(same.body)).toMatchObject({ path: '/same', headers: { authorization: 'Bearer secret-token-value', cookie: 'sid=1' } });
    // Once dropped, credentials stay dropped, even when a later hop returns to the first origin.
    const home = `${other.origin}/redirect?to=${encodeURIComponent(`${echo.origin}/home`)}`;
    const bounce = await c.request({ method: 'GET', url: `${echo.origin}/redirect?to=${encodeURIComponent(home)}`, headers });
    expect(bodyJson(bounce.body)).toMatchObject({ server: 'echo', path: '/home', headers: { 'x-plain': 'keep' } });
    expect(bounce.redirects).toBe(2);
    expect((bodyJson(bounce.body).headers as Record<string, string>).authorization).toBeUndefined();
  });

  it('stops after the redirect limit, and returns the 3xx itself when redirects are off', async () => {
    const e = await failure(client({ maxRedirects: 3 }).request({ method: 'GET', url: `${echo.origin}/loop` }));
    expect(e).toMatchObject({ code: 'fetch_failed', details: { reason: 'redirect-limit' } });
    const raw = await client().request({ method: 'GET', url: `${echo.origin}/redirect?to=/elsewhere`, maxRedirects: 0 });
    expect(raw.status).toBe(302);
    expect(raw.headers.location).toBe('/elsewhere');
  });
});

describe('outbound client: limits', () => {
  it('invariant: outbound-limits-enforced — a body over the cap fails response_too_large (declared, streamed, or decompressed)', async () => {
    const c = client({ maxResponseBytes: 2048 });
    for (const path of ['/big', '/stream', '/bomb']) {
      const e = await failure(c.request({ method: 'GET', url: `${echo.origin}${path}` }));
      expect(e).toMatchObject({ code: 'response_too_large', details: { limitBytes: 2048 } });
    }
    // A request may lower the cap, never raise it.
    const lowered = await failure(client().request({ method: 'GET', url: `${echo.origin}/big`, maxResponseBytes: 100 }));
    expect(lowered.details).toEqual({ limitBytes: 100 });
    const raised = await failure(c.request({ method: 'GET', url: `${echo.origin}/big`, maxResponseBytes: 10_000_000 }));
    expect(raised.details).toEqual({ limitBytes: 2048 });
  });

  it('decodes a compressed body within the cap', async () => {
    const res = await client().request({ method: 'GET', url: `${echo.origin}/gzip` });
    expect(bodyJson(res.body)).toEqual({ zipped: true });
  });

  it('invariant: outbound-limits-enforced — a target that never answers fails fetch_timeout at the deadline, and a request cannot extend it', async () => {
    const started = Date.now();
    const e = await failure(client({ timeoutMs: 200 }).request({ method: 'GET', url: `${hanging.origin}/`, timeoutMs: 60_000 }));
    expect(e).toMatchObject({ code: 'fetch_timeout', details: { timeoutMs: 200 } });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('an aborted signal stops the call with fetch_failed (aborted)', async () => {
    const ctrl = new AbortController();
    const connected = hanging.connections;
    const p = client().request({ method: 'GET', url: `${hanging.origin}/`, signal: ctrl.signal });
    await expect.poll(() => hanging.connections, { timeout: 5_000 }).toBeGreaterThan(connected);
    ctrl.abort();
    const e = await failure(p);
    expect(e).toMatchObject({ code: 'fetch_failed', details: { reason: 'aborted' } });
  });

  it('a name that does not resolve fails fetch_failed (dns), and a redirect carrying credentials is refused', async () => {
    const flip = flippingResolver({});
    const e = await failure(client({ resolver: flip.resolver }).request({ method: 'GET', url: 'http://nowhere.weft.test/' }));
    expect(e).toMatchObject({ code: 'fetch_failed', details: { reason: 'dns' } });
    const creds = await failure(
      client().request({ method: 'GET', url: `${echo.origin}/redirect?to=${encodeURIComponent(`http://u:p@127.0.0.1:${other.port}/`)}` }),
    );
    expect(creds).toMatchObject({ code: 'fetch_failed', details: { reason: 'redirect-invalid' } });
  });

  it('a refused connection fails fetch_failed (connect)', async () => {
    const closed = await listen(createHttpServer(), '127.0.0.1', () => undefined);
    const url = `${closed.origin}/`;
    await new Promise((r) => closed.server.close(r));
    const e = await failure(client().request({ method: 'GET', url }));
    expect(e).toMatchObject({ code: 'fetch_failed', details: { reason: 'connect', cause: 'ECONNREFUSED' } });
  });
});

describe('outbound client: https', () => {
  let dir: string;
  let tls: TestServer;
  let ca: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-outbound-tls-'));
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=api.weft.test',
        '-addext',
        'subjectAltName=DNS:api.weft.test',
      ],
      { stdio: 'ignore' },
    );
    ca = readFileSync(cert, 'utf8');
    tls = await listen(createHttpsServer({ key: readFileSync(key), cert: ca }), '127.0.0.1', (req, res) =>
      json(res, 200, { tls: true, host: req.headers.host }),
    );
  });

  afterAll(async () => {
    await new Promise((r) => tls.server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('invariant: ssrf-address-pinned — https to a pinned address still verifies the certificate against the host name', async () => {
    const flip = flippingResolver({ 'api.weft.test': '127.0.0.1', 'wrong.weft.test': '127.0.0.1' });
    const c = client({ resolver: flip.resolver, ca });
    const ok = await c.request({ method: 'GET', url: `https://api.weft.test:${tls.port}/` });
    expect(bodyJson(ok.body)).toEqual({ tls: true, host: `api.weft.test:${tls.port}` });
    const e = await failure(c.request({ method: 'GET', url: `https://wrong.weft.test:${tls.port}/` }));
    expect(e).toMatchObject({ code: 'fetch_failed', details: { reason: 'connect', cause: 'ERR_TLS_CERT_ALTNAME_INVALID' } });
  });
});
