/**
 * Error text for people. A host error is shown as the host wrote it (`code: message`), so what
 * the console says matches the API documentation and the host's logs.
 */

interface ApiErrorLike {
  status?: unknown;
  code?: unknown;
  message?: unknown;
}

/** `code: message` for an SDK error, the message for anything else. */
export function errorText(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as ApiErrorLike;
    const message = typeof e.message === 'string' ? e.message : String(err);
    if (typeof e.code === 'string' && typeof e.status === 'number') return `${e.code}: ${message}`;
    return message;
  }
  return String(err);
}

/** The HTTP status of an SDK error, if it has one. */
export function errorStatus(err: unknown): number | undefined {
  const s = err && typeof err === 'object' ? (err as ApiErrorLike).status : undefined;
  return typeof s === 'number' ? s : undefined;
}

/** True for an aborted request (a view unmounted or a filter changed). */
export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}
