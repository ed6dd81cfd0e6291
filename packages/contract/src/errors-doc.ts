/**
 * Renders `docs/errors.md` from {@link ERROR_CATALOG}. A test fails when the committed file
 * differs; regenerate with `npm run gen:errors`.
 */
import { ERROR_CATALOG } from './errors.js';

/** The Markdown for docs/errors.md. */
export function renderErrorsMarkdown(): string {
  const rows = Object.entries(ERROR_CATALOG).map(([code, spec]) => {
    const details = 'details' in spec && spec.details ? spec.details.map((d) => `\`${d}\``).join(', ') : '—';
    const status = spec.status === 0 ? 'run error' : String(spec.status);
    return `| \`${code}\` | ${status} | ${spec.when} | ${details} |`;
  });
  return [
    '# Error codes',
    '',
    '<!-- Generated from packages/contract/src/errors.ts by `npm run gen:errors`. Do not edit. -->',
    '',
    'Every non-2xx response body is exactly `{"error": <code>, "message": <text>, "details"?: {…}}`.',
    'Codes marked *run error* never appear as an HTTP status: they are carried in `RunSnapshot.error`',
    'and the `run.failed` / `node.failed` payloads.',
    '',
    '| code | status | when | details |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
