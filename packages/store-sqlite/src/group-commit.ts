/**
 * Group commit for the embedded store: the writes that arrive during one turn of the event loop
 * (run creations, appends, audit batches — many runs' worth at load) share one
 * `BEGIN IMMEDIATE … COMMIT` instead of paying one transaction each.
 *
 * Guarantees (decision 0027):
 * - a caller's promise settles only after the COMMIT that contains its rows returned (or, for a
 *   failure, after its own rows were rolled back): the durability of an acknowledged write is
 *   exactly that of a single-write transaction;
 * - every write runs inside its own SAVEPOINT (better-sqlite3 nests transaction functions that
 *   way), so a write that throws — a stale lease epoch, a sequence gap, a duplicate run — rolls
 *   back only its own rows and rejects only its own caller;
 * - writes run in submission order, so each sees the effects of the ones submitted before it
 *   (a run's append after its creation; fencing checks the epoch as of the writes before it);
 * - if the shared transaction itself is lost (BEGIN or COMMIT fails, or SQLite rolled it back
 *   under a write), nothing of it was committed and every write of the group is retried alone in
 *   its own transaction, so one write's fault cannot lose another's.
 */
import type Database from 'better-sqlite3';

interface Queued {
  write: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };

/** Raised inside the group when SQLite dropped the shared transaction under a write. */
class GroupLost extends Error {}

/** Most writes one shared transaction takes; the rest go into the next one. */
const MAX_GROUP = 512;

export class GroupCommit {
  private queue: Queued[] = [];
  private scheduled = false;
  private readonly group: Database.Transaction<(batch: readonly Queued[], out: Outcome[]) => void>;
  /** Shared transactions committed and writes they carried (for tests and diagnostics). */
  readonly stats = { groups: 0, writes: 0, fallbacks: 0 };

  constructor(db: Database.Database) {
    this.group = db.transaction((batch: readonly Queued[], out: Outcome[]): void => {
      for (const q of batch) {
        if (!db.inTransaction) throw new GroupLost('the shared transaction was rolled back');
        try {
          out.push({ ok: true, value: q.write() });
        } catch (err) {
          out.push({ ok: false, err });
        }
      }
      if (!db.inTransaction) throw new GroupLost('the shared transaction was rolled back');
    });
  }

  /**
   * Queues `write` (a better-sqlite3 transaction function call, so it nests as a savepoint and
   * also works alone) for the next shared transaction; resolves with its result after COMMIT.
   * Arguments must be captured by value: the write runs later in this turn or the next.
   */
  submit<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ write, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Runs every queued write now (also called before the database closes). */
  flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.length <= MAX_GROUP ? this.queue : this.queue.slice(0, MAX_GROUP);
      this.queue = batch === this.queue ? [] : this.queue.slice(MAX_GROUP);
      this.run(batch);
    }
  }

  private run(batch: readonly Queued[]): void {
    if (batch.length === 1) {
      // Alone: the write's own transaction function is the whole transaction.
      const q = batch[0] as Queued;
      let value: unknown;
      try {
        value = q.write();
      } catch (err) {
        q.reject(err);
        return;
      }
      q.resolve(value);
      return;
    }
    const out: Outcome[] = [];
    try {
      this.group.immediate(batch, out);
    } catch {
      // Nothing of the group is committed: each write gets its own transaction.
      this.stats.fallbacks++;
      for (const q of batch) {
        let value: unknown;
        try {
          value = q.write();
        } catch (err) {
          q.reject(err);
          continue;
        }
        q.resolve(value);
      }
      return;
    }
    this.stats.groups++;
    this.stats.writes += batch.length;
    for (const [i, q] of batch.entries()) {
      const o = out[i] as Outcome;
      if (o.ok) q.resolve(o.value);
      else q.reject(o.err);
    }
  }
}
