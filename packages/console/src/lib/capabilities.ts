/**
 * What the discovery document advertises that the console gates views on. Pure, unit-tested in
 * capabilities.test.ts.
 */
import type { DiscoveryDocument } from '@weft/contract/types';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const flag = (v: unknown): boolean => v === true || (isRecord(v) && v.supported === true);

/** True when the host advertises replay / fork of runs (`replay`, `runs.replay` or `runs.fork`). */
export function advertisesReplay(doc: DiscoveryDocument): boolean {
  const runs = isRecord(doc.runs) ? doc.runs : {};
  return flag(doc.replay) || flag(runs.replay) || flag(runs.fork);
}

/** True when the host advertises `runs.pauseResume.supported`. */
export function advertisesPause(doc: DiscoveryDocument): boolean {
  const runs = isRecord(doc.runs) ? doc.runs : {};
  return isRecord(runs.pauseResume) && runs.pauseResume.supported === true;
}
