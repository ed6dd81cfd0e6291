/**
 * CLI failures and the one place that turns any failure into the `error: <code>: <message>`
 * line. Credentials known to the invocation are redacted from that line.
 */

/** A failure caused by the invocation itself (bad flag value, unreadable file…). */
export class CliError extends Error {
  override readonly name = 'CliError';
  /** Stable snake_case code printed before the message. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

const codeOf = (err: unknown): string => {
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && /^[a-z][a-z0-9_.-]*$/i.test(code)) return code;
  }
  return 'internal_error';
};

/** Most validation errors quoted on the error line. */
const MAX_QUOTED_ERRORS = 3;

/**
 * The `details.errors` entries (`{path, message}`) of a validation failure as
 * ` (path: message; …)`, so the line says which field was wrong; `''` when there are none.
 */
function validationSuffix(err: unknown): string {
  const details = typeof err === 'object' && err !== null ? (err as { details?: unknown }).details : undefined;
  const list = typeof details === 'object' && details !== null ? (details as { errors?: unknown }).errors : undefined;
  if (!Array.isArray(list)) return '';
  const items = list
    .filter((e): e is { path?: unknown; message: string } => typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string')
    .map((e) => (typeof e.path === 'string' && e.path !== '' ? `${e.path}: ${e.message}` : e.message));
  if (items.length === 0) return '';
  const more = items.length > MAX_QUOTED_ERRORS ? `; +${items.length - MAX_QUOTED_ERRORS} more` : '';
  return ` (${items.slice(0, MAX_QUOTED_ERRORS).join('; ')}${more})`;
}

/**
 * Formats any thrown value as `error: <code>: <message>`; every secret is replaced by `***`.
 * SDK errors carry their wire code (`not_found`, `connection_failed`…), and validation
 * failures the first entries of `details.errors`.
 */
export function formatErrorLine(err: unknown, secrets: Iterable<string> = []): string {
  const message = (err instanceof Error ? err.message : String(err)) + validationSuffix(err);
  let line = `error: ${codeOf(err)}: ${message.replace(/\s*\n\s*/g, ' ')}`;
  for (const secret of secrets) if (secret) line = line.split(secret).join('***');
  return line;
}
