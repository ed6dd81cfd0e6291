/**
 * A loopback HTTP server for outbound-HTTP scenarios: the host under test is configured to
 * allow exactly this `127.0.0.1:<port>` (`WEFT_OUTBOUND_ALLOW`), so a `core.http.request` to it
 * succeeds while every other loopback port stays refused.
 *
 * Routes: `/redirect?to=<url>&status=<3xx>` answers a redirect; `/text` a plain-text body;
 * `/hits?key=<k>` answers `{key, count}`: how many requests so far carried `count=<k>` in their
 * query (any route counts them, so a scenario can tell whether a call was made again);
 * anything else echoes `{method, path, headers, body}` as JSON.
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

function handle(req: IncomingMessage, res: ServerResponse, body: string, hits: Map<string, number>): void {
  const u = new URL(req.url ?? '/', 'http://target');
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
