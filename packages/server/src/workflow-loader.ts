/**
 * Loads workflow definitions from directories at boot. A file that does not parse or does
 * not validate is reported and skipped; it never stops the host.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunEngine } from '@weft/engine';
import type { Logger } from 'pino';

/** Registers every top-level `*.json` file of each directory; returns the ids loaded. */
export async function loadWorkflowDirs(engine: RunEngine, dirs: readonly string[], log: Logger): Promise<string[]> {
  const ids: string[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isFile() && d.name.endsWith('.json')).map((d) => d.name).sort();
    } catch (e) {
      log.warn({ dir, err: (e as Error).message }, 'workflow directory not readable');
      continue;
    }
    for (const name of names) {
      const file = join(dir, name);
      try {
        const raw = JSON.parse(await readFile(file, 'utf8')) as unknown;
        const { workflow } = await engine.catalog.register(raw, `dir:${file}`);
        ids.push(workflow.id);
      } catch (e) {
        const details = (e as { details?: unknown }).details;
        log.warn({ file, err: (e as Error).message, details }, 'workflow skipped');
      }
    }
  }
  return ids;
}
