/**
 * The one place an error becomes an HTTP response: exactly `{error, message, details?}`.
 * Internal failures answer 500 `internal_error` with a correlation id and no internals.
 *
 * @see wire-contract.md §4.1
 */
import { WeftError, type ErrorEnvelope } from '@weft/contract';
import { Redactor } from '@weft/security';
import { StoreUnavailableError } from '@weft/engine';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { drainRefusedBody } from './request-limits.js';

/** Maps framework errors (body parsing, limits) to catalog codes. */
function fromFramework(err: FastifyError, limit: number | undefined): WeftError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new WeftError('payload_too_large', 'The request body is too large.', limit === undefined ? undefined : { limitBytes: limit });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new WeftError('unsupported_media_type', 'Send request bodies as application/json.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new WeftError('invalid_json', 'The request body is empty; send a JSON object.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new WeftError('validation_error', 'The Content-Length header does not match the body.');
    case 'FST_ERR_BAD_URL':
      return new WeftError('bad_request', 'The request URL cannot be decoded.');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new WeftError('uri_too_long', 'A path segment of the request target is too long.');
    default:
      break;
  }
  if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return new WeftError('invalid_json', 'The request body is not valid JSON.');
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new WeftError('validation_error', 'The request is malformed.');
  }
  return undefined;
}

/** SQLite result codes that a retry may cure: the database is locked or the disk failed. */
const SQLITE_TRANSIENT = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|PROTOCOL)/;

/**
 * True for store faults a retry may cure: {@link StoreUnavailableError} from a store (a
 * terminated Postgres backend, a refused connection) or a SQLite busy / I/O error.
 */
export function isStoreUnavailable(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && SQLITE_TRANSIENT.test(code);
}

/** The answer to a request that met a store fault: 503 with Retry-After, nothing internal. */
export const storeUnavailable = (): WeftError =>
  new WeftError('service_unavailable', 'The database is temporarily unavailable; retry shortly.', { retryAfter: 1 }, { 'retry-after': '1' });

/** Used when the host passes none: credential shapes only. */
const shapesOnly = new Redactor();

/**
 * Writes the envelope for `err`. Messages and details are passed through the redactor, so an
 * error that carries caller data never echoes a secret-shaped value.
 */
export function sendError(err: unknown, req: FastifyRequest, reply: FastifyReply, redactor: Redactor = shapesOnly): FastifyReply {
  let we = err instanceof WeftError ? err : isStoreUnavailable(err) ? storeUnavailable() : fromFramework(err as FastifyError, req.routeOptions.bodyLimit);
  if (we?.code === 'service_unavailable' && !(err instanceof WeftError)) {
    req.log.warn(
      { err: err instanceof Error ? err.message : String(err), cause: err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined },
      'store unavailable',
    );
  }
  if (!we) {
    req.log.error({ err: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err) }, 'internal error');
    we = new WeftError('internal_error', 'An internal error occurred.', { correlationId: String(req.id) });
  }
  if (we.code === 'payload_too_large' && !req.raw.readableEnded) {
    // Keep the connection open and read (bounded) and discard the rest of the upload, so the
    // client finishes writing and reads the 413 instead of a reset: closing the socket while
    // the client is still sending made it fail with EPIPE.
    reply.removeHeader('connection');
    drainRefusedBody(req.raw);
  }
  reply.weftErrorCode = we.code;
  const body: ErrorEnvelope = redactor.redact(we.toEnvelope());
  if (we.headers) reply.headers(we.headers);
  return reply.code(we.status).type('application/json').send(body);
}
