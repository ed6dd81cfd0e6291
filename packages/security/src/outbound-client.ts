/**
 * The host's outbound HTTP client, over `node:http`/`node:https`, behind the {@link SsrfGuard}.
 *
 * Every hop (the first request and each redirect) is checked by the guard, which resolves the
 * name once; the socket then connects to that validated address through a `lookup` that
 * returns only it, so the name is never resolved a second time (DNS rebinding cannot move the
 * connection) while TLS still verifies the certificate against the host name. Redirects are
 * followed by hand, up to a limit; a hop to another origin drops credential headers for the
 * rest of the chain. One deadline covers the whole call (resolution, connects, redirects and
 * the body); the body is read up to a byte limit, after decompression. Upgrade requests are
 * refused.
 *
 * Why not the global `fetch`: on Node 20 it can be pinned only with an undici `Agent`
 * (a `connect.lookup`), which needs the undici package as a dependency; see decision 0016.
 *
 * @see security-contract.md §3.3 (WH-21, WH-22), execution-semantics.md ctx table `httpClient`
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupAddress } from 'node:dns';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Readable } from 'node:stream';
import { SsrfGuard, type ApprovedDestination, type SsrfGuardOptions } from './ssrf-guard.js';
import type { OutboundRequest, OutboundResponse } from '@weft/contract';

/** Wire codes the client fails with (all in the error catalog). */
export type OutboundErrorCode = 'ssrf_blocked' | 'fetch_failed' | 'fetch_timeout' | 'response_too_large' | 'validation_error';

/** A failed outbound call, with a catalog code and wire-safe details. */
export class OutboundError extends Error {
  readonly code: OutboundErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: OutboundErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'OutboundError';
    this.code = code;
    this.details = details;
  }
}

export type { OutboundRequest, OutboundResponse } from '@weft/contract';

/** Host limits and guard settings of a {@link OutboundClient}. */
export interface OutboundClientOptions extends SsrfGuardOptions {
  /** Largest response body read, after decompression. Default 1 MiB. */
  maxResponseBytes?: number;
  /** Deadline of a whole call, redirects included. Default 30 s. */
  timeoutMs?: number;
  /** Most redirects followed. Default 5. */
  maxRedirects?: number;
  userAgent?: string;
  /** Extra trusted CAs for https (tests). */
  ca?: string | Buffer | (string | Buffer)[];
}

/** Defaults of {@link OutboundClientOptions} (the spec's reference cap and timeout). */
export const OUTBOUND_DEFAULTS = { maxResponseBytes: 1_048_576, timeoutMs: 30_000, maxRedirects: 5 } as const;

/** Methods the client sends. */
export const OUTBOUND_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** Request headers a caller may not set: the client owns framing, connection and host. */
const FORBIDDEN_HEADERS = new Set([
  'host',
  'connection',
  'upgrade',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'transfer-encoding',
  'te',
  'trailer',
  'content-length',
  'expect',
  'http2-settings',
]);

/** Header names that carry credentials; dropped when a redirect leaves the origin. */
const CREDENTIAL_HEADER = /^(authorization|cookie|proxy-authorization)$|auth|token|secret|session|api-?key|password|credential|signature/i;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

const clamp = (v: number | undefined, def: number, min: number, max: number): number =>
  typeof v === 'number' && Number.isFinite(v) ? Math.max(min, Math.min(max, Math.floor(v))) : def;

/** Marks the deadline's abort, to tell it from the caller's. */
class DeadlineReached extends Error {}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  stream: IncomingMessage;
}

/**
 * The SSRF-guarded HTTP client (the host's `Outbound` adapter). Throws {@link OutboundError}.
 */
export class OutboundClient {
  readonly maxResponseBytes: number;
  readonly timeoutMs: number;
  readonly maxRedirects: number;
  readonly methods: readonly string[] = OUTBOUND_METHODS;
  private readonly guard: SsrfGuard;
  private readonly userAgent: string;
  private readonly ca: OutboundClientOptions['ca'];

  constructor(opts: OutboundClientOptions = {}) {
    this.guard = new SsrfGuard(opts);
    this.maxResponseBytes = clamp(opts.maxResponseBytes, OUTBOUND_DEFAULTS.maxResponseBytes, 1, 2 ** 31);
    this.timeoutMs = clamp(opts.timeoutMs, OUTBOUND_DEFAULTS.timeoutMs, 1, 3_600_000);
    this.maxRedirects = clamp(opts.maxRedirects, OUTBOUND_DEFAULTS.maxRedirects, 0, 20);
    this.userAgent = opts.userAgent ?? 'weft';
    this.ca = opts.ca;
  }

  /**
   * Sends the request, following redirects (each hop re-checked), and reads the body.
   * @throws OutboundError `validation_error` (bad method, URL or header), `ssrf_blocked`,
   *   `fetch_failed` (`details.reason`: dns, connect, redirect, aborted), `fetch_timeout`,
   *   `response_too_large`.
   */
  async request(req: OutboundRequest): Promise<OutboundResponse> {
    const method = req.method.toUpperCase();
    if (!(OUTBOUND_METHODS as readonly string[]).includes(method))
      throw new OutboundError('validation_error', `Method ${req.method} is not supported; use one of ${OUTBOUND_METHODS.join(', ')}.`);
    let url = parseUrl(req.url);
    const headers = checkHeaders(req.headers ?? {});
    headers['user-agent'] ??= this.userAgent;
    headers['accept-encoding'] ??= 'gzip, deflate, br';
    let body = req.body === undefined ? undefined : typeof req.body === 'string' ? Buffer.from(req.body) : Buffer.from(req.body);
    if (body && (method === 'GET' || method === 'HEAD')) throw new OutboundError('validation_error', `A ${method} request cannot carry a body.`);
    const timeoutMs = clamp(req.timeoutMs, this.timeoutMs, 1, this.timeoutMs);
    const limit = clamp(req.maxResponseBytes, this.maxResponseBytes, 1, this.maxResponseBytes);
    const maxRedirects = clamp(req.maxRedirects, this.maxRedirects, 0, this.maxRedirects);

    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(new DeadlineReached()), timeoutMs);
    const onAbort = (): void => ctrl.abort(req.signal?.reason);
    if (req.signal?.aborted) onAbort();
    else req.signal?.addEventListener('abort', onAbort, { once: true });
    let current = method;
    try {
      for (let redirects = 0; ; redirects++) {
        const dest = await untilAborted(this.guard.check(url), ctrl.signal);
        const res = await this.send(dest, current, headers, body, ctrl.signal);
        const location = res.headers.location;
        if (REDIRECTS.has(res.status) && location !== undefined && maxRedirects > 0) {
          res.stream.resume();
          if (redirects >= maxRedirects) throw new OutboundError('fetch_failed', `More than ${maxRedirects} redirects.`, { reason: 'redirect-limit' });
          let next: URL;
          try {
            next = new URL(location, url);
          } catch {
            throw new OutboundError('fetch_failed', 'A redirect named an invalid URL.', { reason: 'redirect-invalid' });
          }
          if (next.username || next.password)
            throw new OutboundError('fetch_failed', 'A redirect named a URL with credentials.', { reason: 'redirect-invalid' });
          if (next.origin !== url.origin) for (const name of Object.keys(headers)) if (CREDENTIAL_HEADER.test(name)) delete headers[name];
          if (res.status === 303 || ((res.status === 301 || res.status === 302) && current === 'POST')) {
            if (current !== 'HEAD') current = 'GET';
            body = undefined;
            delete headers['content-type'];
          }
          url = next;
          continue;
        }
        const bytes = current === 'HEAD' || res.status === 204 || res.status === 304 ? new Uint8Array(0) : await readBody(res, limit, req.onBodyChunk);
        return { status: res.status, headers: res.headers, body: bytes, url: url.href, redirects };
      }
    } catch (e) {
      throw toOutboundError(e, ctrl.signal, timeoutMs);
    } finally {
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** One hop to the approved address; resolves with the status and headers. */
  private send(
    dest: ApprovedDestination,
    method: string,
    headers: Record<string, string>,
    body: Buffer | undefined,
    signal: AbortSignal,
  ): Promise<RawResponse> {
    const { url, address, family } = dest;
    // The pin: the socket's own resolution returns the validated address and nothing else.
    const pinned = (_host: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void): void => {
      if (opts.all) cb(null, [{ address, family } satisfies LookupAddress]);
      else cb(null, address, family);
    };
    const options: https.RequestOptions = {
      method,
      host: dest.hostname,
      port: dest.port,
      path: `${url.pathname}${url.search}`,
      headers: body ? { ...headers, 'content-length': String(body.length) } : headers,
      lookup: pinned as unknown as https.RequestOptions['lookup'],
      agent: false,
      signal,
      ...(this.ca ? { ca: this.ca } : {}),
    };
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const r = mod.request(options, (res) => {
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
        resolve({ status: res.statusCode ?? 0, headers: out, stream: res });
      });
      r.on('error', reject);
      r.on('upgrade', (_res, socket) => {
        socket.destroy();
        reject(new OutboundError('fetch_failed', 'The server answered with a protocol upgrade, which is refused.', { reason: 'upgrade' }));
      });
      r.end(body);
    });
  }
}

function parseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OutboundError('validation_error', 'The URL is not a valid absolute URL.');
  }
  if (url.username || url.password) throw new OutboundError('validation_error', 'The URL carries credentials; send them in a header instead.');
  return url;
}

function checkHeaders(given: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(given)) {
    const name = k.toLowerCase();
    if (!TOKEN.test(name)) throw new OutboundError('validation_error', `Header name ${JSON.stringify(k)} is invalid.`);
    if (FORBIDDEN_HEADERS.has(name)) throw new OutboundError('validation_error', `Header ${name} is set by the host and cannot be given.`);
    if (typeof v !== 'string' || /[\r\n\0]/.test(v)) throw new OutboundError('validation_error', `Header ${name} has an invalid value.`);
    out[name] = v;
  }
  return out;
}

/** Reads the body, decoded, failing as soon as it passes `limit` bytes. */
async function readBody(
  res: RawResponse,
  limit: number,
  onChunk?: (chunk: Uint8Array, head: { status: number; headers: Record<string, string> }) => void,
): Promise<Uint8Array> {
  const declared = Number(res.headers['content-length']);
  const encoding = (res.headers['content-encoding'] ?? '').trim().toLowerCase();
  const tooLarge = (): OutboundError => new OutboundError('response_too_large', `The response body exceeds ${limit} bytes.`, { limitBytes: limit });
  if (!encoding && Number.isFinite(declared) && declared > limit) {
    res.stream.destroy();
    throw tooLarge();
  }
  let source: Readable = res.stream;
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? createGunzip()
      : encoding === 'deflate'
        ? createInflate()
        : encoding === 'br'
          ? createBrotliDecompress()
          : undefined;
  if (decoder) {
    res.stream.on('error', (e) => decoder.destroy(e));
    source = res.stream.pipe(decoder);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of source) {
      const b = chunk as Buffer;
      total += b.length;
      if (total > limit) throw tooLarge();
      chunks.push(b);
      onChunk?.(b, res);
    }
  } catch (e) {
    if (e instanceof OutboundError) {
      res.stream.destroy();
      decoder?.destroy();
      throw e;
    }
    if (decoder && !res.stream.errored) throw new OutboundError('fetch_failed', 'The response body could not be decoded.', { reason: 'decode' });
    throw e;
  }
  return Buffer.concat(chunks);
}

function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function toOutboundError(e: unknown, signal: AbortSignal, timeoutMs: number): OutboundError {
  if (signal.aborted) {
    if (signal.reason instanceof DeadlineReached)
      return new OutboundError('fetch_timeout', `The request did not finish within ${timeoutMs} ms.`, { timeoutMs });
    return new OutboundError('fetch_failed', 'The request was aborted.', { reason: 'aborted' });
  }
  if (e instanceof OutboundError) return e;
  const coded = e as { code?: unknown; message?: unknown; details?: unknown };
  if (coded && (coded.code === 'ssrf_blocked' || coded.code === 'fetch_failed') && typeof coded.message === 'string') {
    return new OutboundError(coded.code, coded.message, coded.details as Record<string, unknown>);
  }
  const sys = typeof coded?.code === 'string' ? coded.code : undefined;
  return new OutboundError('fetch_failed', 'The request failed before a complete response arrived.', { reason: 'connect', ...(sys ? { cause: sys } : {}) });
}
