/**
 * Run-status lists spelled as SQL, shared by the SQL stores. They are literals rather than
 * bound parameters because the `runs_recoverable` partial index of both 0001_init.sql
 * migrations can only serve a query whose predicate matches (SQLite) or provably implies
 * (Postgres, which cannot reason about a parameter of a generic plan) its own text.
 */
import { TERMINAL_STATUSES, WAITING_STATUSES, type RunStatus } from '@weft/contract';

/** In the order the index predicate spells them. */
const TERMINAL: readonly RunStatus[] = ['completed', 'failed', 'cancelled'];

// Fail at load rather than mis-recover if the contract's terminal set ever changes: the
// partial index predicate would then need a new migration too.
if (TERMINAL.length !== TERMINAL_STATUSES.size || !TERMINAL.every((s) => TERMINAL_STATUSES.has(s))) {
  throw new Error('TERMINAL_STATUSES changed: update store-kit sql/statuses.ts and add migrations for runs_recoverable');
}

const list = (xs: readonly string[]): string => `(${xs.map((s) => `'${s}'`).join(', ')})`;

/** `('completed', 'failed', 'cancelled')` — identical to the index predicate. */
export const TERMINAL_SQL: string = list(TERMINAL);
/** The waiting statuses as an SQL list. */
export const WAITING_SQL: string = list([...WAITING_STATUSES]);
