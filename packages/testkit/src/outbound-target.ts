/**
 * A loopback HTTP server for outbound-HTTP scenarios: the host under test is configured to
 * allow exactly this `127.0.0.1:<port>` (`WEFT_OUTBOUND_ALLOW`), so a `core.http.request` to it
 * succeeds while every other loopback port stays refused.
 *
 * Routes: `/redirect?to=<url>&status=<3xx>` answers a redirect; `/text` a plain-text body;
 * `/hits?key=<k>` answers `{key, count}`: how many requests so far carried `count=<k>` in their
 * query (any route counts them, so a scenario can tell whether a call was made again);
 * anything else echoes `{method, path, headers, body}` as JSON.
 *
 * It is also the webhook receiver of the black-box suite: `POST /hooks/<mode>/<name>` records
 * the request (headers and the raw body) under `<name>` and answers by mode — `ok` 204, `fail`
 * 500, `slow` never (the host's attempt timeout ends it), `big` 200 with a 4 MiB body,
 * `redirect` 302 to `/hooks/ok/<name>-redirected`. `GET /_received/<name>?count=N&timeout=MS`
 * returns the recorded requests as JSON (oldest first) once there are at least N (default 0)
 * or the timeout (default 0, at most 30 s) passed — a long-poll, so tests wait for an event.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running target. */
export interface OutboundTarget {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** The allowlist entry that permits exactly this target. */
  allowEntry: string;
  close(): Promise<void>;
}

/** One request the webhook receiver recorded. */
export interface ReceivedHook {
  headers: Record<string, string | string[] | undefined>;
  body: string;
  at: number;
}

const received = new Map<string, ReceivedHook[]>();
const waiters = new Set<() => void>();

function answerReceived(res: ServerResponse, name: string, count: number, timeoutMs: number): void {
  const send = (): void => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(received.get(name) ?? []));
  };
  if ((received.get(name)?.length ?? 0) >= count || timeoutMs <= 0) {
    send();
    return;
  }
  const check = (): void => {
    if ((received.get(name)?.length ?? 0) < count) return;
    done();
  };
  const done = (): void => {
    waiters.delete(check);
    clearTimeout(timer);
    send();
  };
  const timer = setTimeout(done, Math.min(timeoutMs, 30_000));
  waiters.add(check);
}

function hook(req: IncomingMessage, res: ServerResponse, body: string, u: URL): boolean {
  const r = /^\/_received\/([A-Za-z0-9._-]+)$/.exec(u.pathname);
  if (r && req.method === 'GET') {
    answerReceived(res, r[1] as string, Number(u.searchParams.get('count') ?? 0), Number(u.searchParams.get('timeout') ?? 0));
    return true;
  }
  const m = /^\/hooks\/(ok|fail|slow|big|redirect)\/([A-Za-z0-9._-]+)$/.exec(u.pathname);
  if (!m) return false;
  const name = m[2] as string;
  const list = received.get(name) ?? [];
  list.push({ headers: req.headers, body, at: Date.now() });
  received.set(name, list);
  for (const w of [...waiters]) w();
  switch (m[1]) {
    case 'ok':
      res.writeHead(204);
      res.end();
      break;
    case 'fail':
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('receiver failure');
      break;
    case 'slow':
      break;
    case 'big':
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.alloc(4 * 1_048_576, 120));
      break;
    case 'redirect':
      res.writeHead(302, { location: `/hooks/ok/${name}-redirected` });
      res.end();
      break;
  }
  return true;
}

function handle(req: IncomingMessage, res: ServerResponse, body: string, hits: Map<string, number>): void {
  const u = new URL(req.url ?? '/', 'http://target');
  if (hook(req, res, body, u)) return;
  if (u.pathname === '/hits') {
    const key = u.searchParams.get('key') ?? '';
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ key, count: hits.get(key) ?? 0 }));
    return;
  }
  const counted = u.searchParams.get('count');
  if (counted !== null) hits.set(counted, (hits.get(counted) ?? 0) + 1);
  if (u.pathname === '/redirect') {
    res.writeHead(Number(u.searchParams.get('status') ?? 302), { location: u.searchParams.get('to') ?? '/' });
    res.end();
    return;
  }
  if (u.pathname === '/slow') {
    // Answers only after `ms` (default 5 s): a caller with a shorter deadline times out.
    const t = setTimeout(() => res.end('late'), Number(u.searchParams.get('ms') ?? 5000));
    res.on('close', () => clearTimeout(t));
    return;
  }
  if (u.pathname === '/text') {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'set-cookie': 'session=target-cookie' });
    res.end('plain text from the target');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ method: req.method, path: req.url, headers: req.headers, body }));
}

/** Starts the target on an ephemeral loopback port. */
export async function startOutboundTarget(): Promise<OutboundTarget> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8'), hits));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    allowEntry: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
