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

/**
 * Formats any thrown value as `error: <code>: <message>`; every secret is replaced by `***`.
 * SDK errors carry their wire code (`not_found`, `connection_failed`…).
 */
export function formatErrorLine(err: unknown, secrets: Iterable<string> = []): string {
  const message = err instanceof Error ? err.message : String(err);
  let line = `error: ${codeOf(err)}: ${message.replace(/\s*\n\s*/g, ' ')}`;
  for (const secret of secrets) if (secret) line = line.split(secret).join('***');
  return line;
}
