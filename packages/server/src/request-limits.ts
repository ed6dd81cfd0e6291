/**
 * Request limits and the envelope for requests that never reach a route: Node's own parser
 * errors (`clientError`), unmet `Expect` headers, `100-continue` uploads that are too large, over-long URLs, missing `Host`, repeated
 * query parameters or control characters in them, and JSON nested too deep. Every answer is the closed envelope
 * `{error, message, details?}` with a catalog code; none echoes what the caller sent.
 *
 * @see ../../../docs/operations.md §Request limits, wire-contract.md §4.1
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { WeftError, type ErrorCode } from '@weft/contract';

/** Deepest JSON nesting (objects and arrays) a request body may have. */
export const MAX_JSON_DEPTH = 64;

/** Longest request target (path and query, in bytes as received) before 414. */
export const MAX_URL_BYTES = 8192;

/**
 * How much of a refused (oversized) upload the host reads and discards so the client sees the
 * 413 instead of a reset; beyond this the connection is closed.
 */
export const MAX_DRAIN_BYTES = 16 * 1024 * 1024;

/** How long the host keeps draining a refused upload before it closes the connection. */
export const MAX_DRAIN_MS = 10_000;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * True when the JSON text nests objects/arrays deeper than `max`. One linear pass that skips
 * string contents; it does not validate the JSON (the parser does that afterwards) and never
 * recurses, so it is safe on hostile input of any shape.
 */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}

/** The error for a body nested deeper than {@link MAX_JSON_DEPTH}. */
export const tooDeep = (): WeftError =>
  new WeftError('invalid_json', `The request body nests deeper than ${MAX_JSON_DEPTH} levels.`, { maxDepth: MAX_JSON_DEPTH });

// Query values are ids, enums, integers and cursors: none has a control character, and a NUL
// cannot even be bound as a Postgres text parameter.
const CONTROL_RE = /[\u0000-\u001f\u007f]/;

/**
 * The one query check every route shares: a parameter given more than once, or a value with a
 * control character, is a validation error (undefined when the query is fine). The parameter
 * is named only when the route declares it (`declared`), so an arbitrary caller-chosen name is
 * never echoed back.
 */
export function queryError(query: unknown, declared: readonly string[]): WeftError | undefined {
  if (!query || typeof query !== 'object') return undefined;
  for (const [name, value] of Object.entries(query)) {
    const repeated = Array.isArray(value);
    if (!repeated && !(typeof value === 'string' && CONTROL_RE.test(value))) continue;
    const problem = repeated ? 'is given more than once' : 'contains a control character';
    if (declared.includes(name)) {
      return new WeftError('validation_error', `The query parameter ${name} ${problem}.`, {
        errors: [{ path: `/${name}`, message: repeated ? 'repeated' : 'control character' }],
      });
    }
    return new WeftError('validation_error', `A query parameter ${problem}.`);
  }
  return undefined;
}

/** Serialises the envelope of `code`, for answers written straight to the socket. */
function envelopeBody(code: ErrorCode, message: string, details?: Record<string, unknown>): string {
  return JSON.stringify(new WeftError(code, message, details).toEnvelope());
}

const rawResponse = (status: number, body: string): string =>
  `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
  'content-type: application/json; charset=utf-8\r\n' +
  `content-length: ${Buffer.byteLength(body)}\r\n` +
  'x-content-type-options: nosniff\r\n' +
  'connection: close\r\n\r\n' +
  body;

/** True when the raw bytes Node failed on start with a request line longer than the URL limit. */
function requestLineTooLong(raw: unknown): boolean {
  if (!Buffer.isBuffer(raw)) return false;
  if (!/^[A-Z]{3,16} /.test(raw.subarray(0, 17).toString('latin1'))) return false;
  const eol = raw.indexOf('\r\n');
  return eol === -1 || eol > MAX_URL_BYTES;
}

/** The answer to a request Node's HTTP parser refused, by its error code. */
export function clientErrorAnswer(err: NodeJS.ErrnoException & { rawPacket?: unknown }): { status: number; body: string } {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, body: envelopeBody('request_timeout', 'The request was not received in time.') };
    case 'HPE_HEADER_OVERFLOW':
      if (requestLineTooLong(err.rawPacket))
        return { status: 414, body: envelopeBody('uri_too_long', 'The request target is too long.', { limitBytes: MAX_URL_BYTES }) };
      return { status: 431, body: envelopeBody('header_fields_too_large', 'The request headers are too large.') };
    default:
      return { status: 400, body: envelopeBody('bad_request', 'The HTTP request is malformed.') };
  }
}

/**
 * Fastify `clientErrorHandler`: answers Node parser errors (bad method, bad header, header
 * overflow, timeout) with the envelope and closes the connection.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException & { rawPacket?: unknown }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy(err);
    return;
  }
  const { status, body } = clientErrorAnswer(err);
  socket.end(rawResponse(status, body));
}

/**
 * Server `checkExpectation` listener: Node answers an unsupported `Expect` with an empty 417
 * unless someone listens; this sends the envelope instead.
 */
export function expectationFailed(_req: IncomingMessage, res: ServerResponse): void {
  const body = envelopeBody('expectation_failed', 'Only the 100-continue expectation is supported.');
  res.writeHead(417, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-content-type-options': 'nosniff',
    connection: 'close',
  });
  res.end(body);
}

/**
 * Server `checkContinue` listener: a request announcing a body over `limitBytes` gets its 413
 * at once, before the client is invited to send it; any other gets `100 Continue` and goes on
 * to the app as usual (what Node does when nobody listens).
 */
export function continueUnlessTooLarge(
  limitBytes: number,
  dispatch: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (Number(req.headers['content-length']) > limitBytes) {
      const body = envelopeBody('payload_too_large', 'The request body is too large.', { limitBytes });
      res.writeHead(413, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        'x-content-type-options': 'nosniff',
        connection: 'close',
      });
      res.end(body);
      return;
    }
    res.writeContinue();
    dispatch(req, res);
  };
}

/**
 * Reads and discards the rest of a refused upload so the client can finish writing and read
 * the answer, keeping the connection usable. Stops and closes the connection after
 * {@link MAX_DRAIN_BYTES} or {@link MAX_DRAIN_MS}, so a client cannot hold the host reading
 * forever.
 */
export function drainRefusedBody(req: IncomingMessage): void {
  if (req.readableEnded || req.destroyed) return;
  let seen = 0;
  const stop = (): void => {
    clearTimeout(timer);
    req.removeListener('data', onData);
    req.removeListener('end', done);
    req.removeListener('close', done);
  };
  const cut = (): void => {
    stop();
    req.socket.destroy();
  };
  const onData = (chunk: Buffer): void => {
    seen += chunk.length;
    if (seen > MAX_DRAIN_BYTES) cut();
  };
  const done = (): void => stop();
  const timer = setTimeout(cut, MAX_DRAIN_MS);
  timer.unref();
  req.on('data', onData);
  req.once('end', done);
  req.once('close', done);
  req.resume();
}
