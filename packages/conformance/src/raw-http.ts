/**
 * Byte-level HTTP for scenarios that must send what `fetch` refuses to (unknown methods, no
 * Host, `Expect`, malformed request lines), and a Node `http` upload that writes a whole body
 * even while the host answers early. Both work against any base URL (http or https) and end
 * at a deadline instead of hanging.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** A response read off the socket. */
export interface RawResponse {
  /** Interim (1xx) statuses received before the final response, in order. */
  interim: number[];
  status: number;
  headers: Record<string, string>;
  body: string;
}

const endpoint = (baseUrl: string): { host: string; port: number; tls: boolean } => {
  const u = new URL(baseUrl);
  const tls = u.protocol === 'https:';
  return { host: u.hostname, port: Number(u.port || (tls ? 443 : 80)), tls };
};

/** The `host:port` authority of `baseUrl`, for hand-written Host headers. */
export const authorityOf = (baseUrl: string): string => new URL(baseUrl).host;

/** Parses the first final (non-1xx) response in `buf`, or undefined while it is incomplete. */
function parse(buf: Buffer): RawResponse | undefined {
  const interim: number[] = [];
  while (/^HTTP\/1\.[01] 1\d\d /.test(buf.subarray(0, 13).toString('latin1'))) {
    const cut = buf.indexOf('\r\n\r\n');
    if (cut === -1) return undefined;
    interim.push(Number(buf.subarray(9, 12).toString('latin1')));
    buf = buf.subarray(cut + 4);
  }
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const [statusLine, ...lines] = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const rest = buf.subarray(end + 4);
  const len = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
  if (len !== undefined && rest.length < len) return undefined;
  return { interim, status, headers, body: rest.subarray(0, len ?? rest.length).toString('utf8') };
}

/**
 * Writes `bytes` on a fresh connection and returns the first final response (interim 1xx
 * answers are skipped), complete once its
 * Content-Length is read or the host closes. Rejects at `deadlineMs`.
 */
export function rawExchange(baseUrl: string, bytes: string | Buffer, deadlineMs = 10_000): Promise<RawResponse> {
  const ep = endpoint(baseUrl);
  return new Promise((resolve, reject) => {
    const sock: Socket = ep.tls ? tlsConnect({ host: ep.host, port: ep.port, servername: ep.host }) : netConnect({ host: ep.host, port: ep.port });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      const res = parse(Buffer.concat(chunks));
      if (!err && !res) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (res) resolve(res);
      else reject(err ?? new Error('no response'));
    };
    const timer = setTimeout(() => finish(new Error(`no complete response within ${deadlineMs} ms`)), deadlineMs);
    sock.once(ep.tls ? 'secureConnect' : 'connect', () => sock.write(bytes));
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      const res = parse(Buffer.concat(chunks));
      if (res && res.headers['content-length'] !== undefined) finish();
    });
    sock.on('end', () => finish(new Error('connection closed before a complete response')));
    sock.on('error', (e) => finish(e));
  });
}

/** The outcome of one upload: the status, and any client-side error (EPIPE, ECONNRESET…). */
export interface UploadResult {
  status?: number;
  body?: string;
  errorCode?: string;
}

/**
 * POSTs a `size`-byte body with Node's `http` client (which, unlike curl, keeps writing while
 * the answer arrives) and reports what the client saw once the response is read *and* the
 * body is fully written — so a write error after an early answer is reported too.
 */
export function nodeUpload(baseUrl: string, path: string, size: number, headers: Record<string, string>, deadlineMs = 20_000): Promise<UploadResult> {
  const u = new URL(path, baseUrl);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  const body = Buffer.alloc(size, 0x20);
  return new Promise((resolve) => {
    const out: UploadResult = {};
    let written = false;
    let read = false;
    let done = false;
    const settle = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(out);
    };
    const progress = (): void => {
      if (out.errorCode || (written && read)) settle();
    };
    const fail = (e: NodeJS.ErrnoException): void => {
      out.errorCode ??= e.code ?? e.message;
      progress();
    };
    const req = request(u, { method: 'POST', headers: { ...headers, 'content-length': String(size) } }, (res) => {
      out.status = res.statusCode ?? 0;
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        out.body = Buffer.concat(parts).toString('utf8');
        read = true;
        progress();
      });
      res.on('error', fail);
    });
    const timer = setTimeout(() => {
      out.errorCode ??= 'DEADLINE';
      req.destroy();
      settle();
    }, deadlineMs);
    req.on('finish', () => {
      written = true;
      progress();
    });
    req.on('error', fail);
    req.end(body);
  });
}
