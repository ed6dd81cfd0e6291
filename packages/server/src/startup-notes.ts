/**
 * The human lines `weft serve` prints at start-up besides the listening line: why no
 * development key was generated, and one summary of the workflows it could not load (the
 * reason for each file is logged at debug level, never one warning per file).
 */
import { basename, resolve } from 'node:path';
import type { HostConfig } from './config.js';
import { CONSOLE_BUILD_HINT, DEFAULT_CONSOLE_DIR, consoleBuilt } from './routes/console.js';
import type { WorkflowLoadResult } from './workflow-loader.js';

/** Why a host without configured keys did not generate a development key. */
export type DevKeyWithheld = { reason: 'jwt-issuers' } | { reason: 'operator-key' } | { reason: 'managed-keys'; count: number };

/** How many skipped file names the summary line quotes before "and N more". */
const QUOTED_SKIPS = 3;

/** The line explaining a withheld development key. */
export function devKeyWithheldNote(w: DevKeyWithheld): string {
  const why =
    w.reason === 'jwt-issuers'
      ? 'JWT issuers are configured, so bearer tokens from them authenticate'
      : w.reason === 'operator-key'
        ? 'an operator key is configured (WEFT_OPERATOR_KEY); create tenant keys with it'
        : `the store already holds ${w.count} managed API key${w.count === 1 ? '' : 's'} (made with \`weft keys create\`); authenticate with one of them`;
  return `No WEFT_API_KEYS configured and no development key generated: ${why}.`;
}

/** One line per workflow directory that does not exist or cannot be read. */
export function unreadableDirNotes(report: WorkflowLoadResult): string[] {
  return report.unreadableDirs.map(
    (d) =>
      `Workflow directory ${resolve(d.dir)} ${d.reason === 'not found' ? 'not found' : d.reason === 'not a directory' ? 'is not a directory' : `cannot be read (${d.reason})`}: nothing was loaded from it. ` +
      'Check WEFT_WORKFLOWS_DIR (":"-separated, relative to the working directory); the official conformance fixtures are not part of this repository (see "Contracts directory" in docs/operations.md).',
  );
}

/** The single summary line of skipped workflow files, or `undefined` when none was skipped. */
export function skippedWorkflowsNote(report: WorkflowLoadResult): string | undefined {
  const n = report.skipped.length;
  if (n === 0) return undefined;
  const names = report.skipped.slice(0, QUOTED_SKIPS).map((s) => basename(s.file));
  const more = n > QUOTED_SKIPS ? ` and ${n - QUOTED_SKIPS} more` : '';
  return (
    `Skipped ${n} of ${n + report.loaded.length} workflow file${n === 1 ? '' : 's'} that do not validate or need features this host lacks ` +
    `(${names.join(', ')}${more}); WEFT_LOG_LEVEL=debug logs the reason for each.`
  );
}

/**
 * The console line: its URL, or why `/console` answers 503 (no build in the directory it reads).
 * `undefined` when the console is switched off.
 */
export function consoleNote(config: Pick<HostConfig, 'console' | 'consoleDir'>, url: string): string | undefined {
  if (!config.console) return undefined;
  const dir = config.consoleDir ?? DEFAULT_CONSOLE_DIR;
  if (consoleBuilt(dir)) return `Console: ${url}/console`;
  return `Console: not built (no index.html in ${resolve(dir)}); run \`${CONSOLE_BUILD_HINT}\` and reload ${url}/console`;
}
