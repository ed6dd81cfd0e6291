/**
 * Loads workflow definitions from directories at boot. A file that does not parse or does
 * not validate is skipped (its reason logged at debug level); it never stops the host. The
 * caller reports the skips once, as a summary.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunEngine } from '@weft/engine';
import type { Logger } from 'pino';

/** A workflow file that was not registered, and why. */
export interface SkippedWorkflow {
  file: string;
  reason: string;
}

/** What {@link loadWorkflowDirs} registered and what it could not. */
export interface WorkflowLoadReport {
  /** Ids registered, in load order. */
  loaded: string[];
  /** Files that did not parse or validate. */
  skipped: SkippedWorkflow[];
  /** Directories that do not exist or cannot be read. */
  unreadableDirs: { dir: string; reason: string }[];
}

/** Registers every top-level `*.json` file of each directory. */
export async function loadWorkflowDirs(engine: RunEngine, dirs: readonly string[], log: Logger): Promise<WorkflowLoadReport> {
  const report: WorkflowLoadReport = { loaded: [], skipped: [], unreadableDirs: [] };
  for (const dir of dirs) {
    let names: string[];
    try {
      names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isFile() && d.name.endsWith('.json')).map((d) => d.name).sort();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      report.unreadableDirs.push({ dir, reason: code === 'ENOENT' ? 'not found' : code === 'ENOTDIR' ? 'not a directory' : (e as Error).message });
      continue;
    }
    for (const name of names) {
      const file = join(dir, name);
      try {
        const raw = JSON.parse(await readFile(file, 'utf8')) as unknown;
        const { workflow } = await engine.catalog.register(raw, `dir:${file}`);
        report.loaded.push(workflow.id);
      } catch (e) {
        const details = (e as { details?: unknown }).details;
        log.debug({ file, err: (e as Error).message, details }, 'workflow skipped');
        report.skipped.push({ file, reason: (e as Error).message });
      }
    }
  }
  return report;
}
