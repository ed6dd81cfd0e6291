/**
 * Status lists spelled as SQL. They are literals rather than bound parameters because the
 * planner can only use the `runs_recoverable` partial index in 0001_init.sql when it can
 * prove the query predicate implies the index predicate, which it cannot do for a parameter
 * of a generic plan.
 */
import { TERMINAL_STATUSES, type RunStatus } from '@weft/contract';

const TERMINAL: readonly RunStatus[] = ['completed', 'failed', 'cancelled'];

/**
 * Statuses in which a run waits for a person or an external event rather than a driver;
 * the same set as `MemoryStore` uses for recovery.
 */
const WAITING: readonly RunStatus[] = ['waiting-approval', 'waiting-input', 'waiting-external', 'paused'];

// Fail at load rather than mis-recover if the contract's terminal set ever changes: the
// partial index predicate would then need a new migration too.
if (TERMINAL.length !== TERMINAL_STATUSES.size || !TERMINAL.every((s) => TERMINAL_STATUSES.has(s))) {
  throw new Error('@weft/store-postgres: TERMINAL_STATUSES changed; update statuses.ts and add a migration for runs_recoverable');
}

const list = (xs: readonly string[]): string => `(${xs.map((s) => `'${s}'`).join(', ')})`;

/** `('completed', 'failed', 'cancelled')` — identical to the index predicate. */
export const TERMINAL_SQL: string = list(TERMINAL);
/** The waiting statuses as an SQL list. */
export const WAITING_SQL: string = list(WAITING);
