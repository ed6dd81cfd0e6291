/**
 * Loads workflow definitions from directories at boot. A file that does not parse or does
 * not validate is skipped (its reason logged at debug level); it never stops the host. The
 * caller reports the skips once, as a summary.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WeftError } from '@weft/contract';
import type { RunEngine } from '@weft/engine';
import type { Logger } from 'pino';

/** Why a workflow file was not loaded. */
export type SkipReason =
  /** Not valid JSON. */
  | 'invalid-json'
  /** Uses node types no registry entry implements (`unknownTypes` names them). */
  | 'unknown-node-types'
  /** Needs a capability this host does not provide (`requiredCapability`), e.g. compensation. */
  | 'capability-required'
  /** Fails the definition schema or the graph checks. */
  | 'invalid'
  /** Could not be read. */
  | 'unreadable';

/** One file that was not loaded. */
export interface SkippedWorkflow {
  file: string;
  reason: SkipReason;
  /** The error code registration answered, when it was a {@link WeftError}. */
  code?: string;
  message: string;
  unknownTypes?: string[];
  requiredCapability?: string;
}

/** What {@link loadWorkflowDirs} did. */
export interface WorkflowLoadResult {
  /** Ids registered (or already registered with identical content), in load order. */
  loaded: string[];
  skipped: SkippedWorkflow[];
  /** Directories that do not exist or cannot be read. */
  unreadableDirs: { dir: string; reason: string }[];
}

/** Classifies a registration failure. */
export function skipOf(file: string, e: unknown): SkippedWorkflow {
  if (e instanceof SyntaxError) return { file, reason: 'invalid-json', message: 'not valid JSON' };
  if (!(e instanceof WeftError)) return { file, reason: 'unreadable', message: e instanceof Error ? e.message : String(e) };
  const out: SkippedWorkflow = { file, reason: 'invalid', code: e.code, message: e.message };
  const unknownTypes = e.details?.unknownTypes;
  if (Array.isArray(unknownTypes)) {
    out.reason = 'unknown-node-types';
    out.unknownTypes = unknownTypes.filter((t): t is string => typeof t === 'string');
  } else if (e.code === 'capability_required') {
    out.reason = 'capability-required';
    if (typeof e.details?.requiredCapability === 'string') out.requiredCapability = e.details.requiredCapability;
  }
  return out;
}

/** Registers every top-level `*.json` file of each directory. */
export async function loadWorkflowDirs(engine: RunEngine, dirs: readonly string[], log: Logger): Promise<WorkflowLoadResult> {
  const result: WorkflowLoadResult = { loaded: [], skipped: [], unreadableDirs: [] };
  for (const dir of dirs) {
    let names: string[];
    try {
      names = (await readdir(dir, { withFileTypes: true }))
        .filter((d) => d.isFile() && d.name.endsWith('.json'))
        .map((d) => d.name)
        .sort();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      result.unreadableDirs.push({ dir, reason: code === 'ENOENT' ? 'not found' : code === 'ENOTDIR' ? 'not a directory' : (e as Error).message });
      continue;
    }
    for (const name of names) {
      const file = join(dir, name);
      try {
        const raw = JSON.parse(await readFile(file, 'utf8')) as unknown;
        const { workflow } = await engine.catalog.register(raw, `dir:${file}`);
        result.loaded.push(workflow.id);
      } catch (e) {
        const skip = skipOf(file, e);
        result.skipped.push(skip);
        const details = (e as { details?: unknown }).details;
        log.debug({ file, reason: skip.reason, err: (e as Error).message, details }, 'workflow skipped');
      }
    }
  }
  return result;
}
