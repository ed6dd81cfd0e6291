/**
 * The tamper-evident audit log (`openwop-audit-log-integrity`): security-relevant actions are
 * appended as hash-chained entries, and every `checkpointEntries` entries or
 * `checkpointSeconds` seconds — whichever comes first — a checkpoint signs the Merkle root of
 * the whole log so far with the audit Ed25519 key.
 *
 * Appends are serialized: one writer per process (a queue drained in batches, each batch one
 * store transaction), and the store's audit lock serializes processes. Entries are content-free
 * by construction: ids, action names and counts only — never a request body, an input, a
 * secret or a hash of one.
 *
 * @see security-contract.md §1.10, docs/decisions/0007-managed-keys-and-audit-log.md
 */
import type { RunRecord } from '@weft/engine';
import type { AuditCheckpoint, AuditEntry, AuditRider, AuditStore, AuditWrite, AuditWriteState } from '@weft/store-kit';
import type { AuthAdvertisement } from './auth-discovery.js';
import { MerkleFrontier, checkpointId, entryHash, keyFingerprint, rawPublicKeyBase64, signCheckpoint, verifyCheckpoint } from './audit-chain.js';
import type { AuditSigningKey } from './audit-signing-key.js';

/** The actions Weft records. */
export type AuditAction =
  | 'key.created'
  | 'key.rotated'
  | 'key.revoked'
  | 'run.created'
  | 'run.cancelled'
  | 'run.bulk_cancelled'
  | 'run.paused'
  | 'run.resumed'
  | 'run.forked'
  | 'interrupt.resolved'
  | 'workflow.registered'
  | 'workflow.deleted'
  | 'secret.created'
  | 'secret.rotated'
  | 'secret.deleted'
  | 'secret.resolved'
  | 'vault.rewrapped'
  | 'webhook.paused'
  | 'webhook.resumed';

/** Detail values: ids, names, counts and flags — nothing else fits. */
export type AuditDetailValue = string | number | boolean | null | readonly string[];

/** What a caller records. */
export interface AuditRecord {
  tenant: string;
  principal: string;
  action: AuditAction;
  /** The id the action applies to (run id, key id, workflow id…). */
  target: string;
  details?: Readonly<Record<string, AuditDetailValue>>;
}

/** The wire shapes of `GET /v1/audit/verify`, declared once in the contract. */
export type { AuditAnomaly, AuditCheckpointView, AuditVerifyResult } from '@weft/contract/types';
import type { AuditAnomaly, AuditCheckpointView, AuditVerifyResult } from '@weft/contract/types';

export interface AuditLogOptions {
  signingKey: Pick<AuditSigningKey, 'privateKey' | 'publicKey'>;
  /** Checkpoint after this many entries (default 1000). */
  checkpointEntries?: number;
  /** …or once the oldest unsigned entry is this old (default 300 s). */
  checkpointSeconds?: number;
  /** Wall clock (ms), injectable for tests. */
  now?: () => number;
  /** Arm a timer for time-based checkpoints (default true). */
  timers?: boolean;
  /** Told about failures of background checkpoints. */
  onError?: (err: unknown) => void;
}

/** Largest range one verify call walks. */
export const MAX_VERIFY_RANGE = 100_000;

/** Entries read per store round trip. */
const PAGE = 1000;
/** Records written per transaction. */
const BATCH = 500;

interface Pending {
  record: AuditRecord;
  resolve: (e: AuditEntry) => void;
  reject: (err: unknown) => void;
}

/** What the log knows about the store's state (updated only after a commit). */
interface Tip {
  seq: number;
  hash: string | null;
  frontier: MerkleFrontier;
  /** Time (ms) of entry 0, the time reference before the first checkpoint. */
  genesisMs: number | null;
  lastCheckpoint: { checkpoint: number; atSeq: number; ms: number } | null;
}

export class AuditLog {
  private readonly queue: Pending[] = [];
  private wantEvaluation = false;
  private forceCheckpoint = false;
  private draining: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** After a failed background checkpoint, the timer waits this long before trying again. */
  private retryDelayMs = 0;
  /** The state the last build chained to, possibly not yet committed (see stagedMatching). */
  private lastStaged: Tip | undefined;
  private readonly now: () => number;
  readonly checkpointEntries: number;
  readonly checkpointSeconds: number;
  /** Fingerprint of the signing key, stored with each checkpoint. */
  readonly keyId: string;

  private constructor(
    private readonly store: AuditStore,
    private readonly opts: AuditLogOptions,
    private tip: Tip,
  ) {
    this.now = opts.now ?? Date.now;
    this.checkpointEntries = opts.checkpointEntries ?? 1000;
    this.checkpointSeconds = opts.checkpointSeconds ?? 300;
    this.keyId = keyFingerprint(opts.signingKey.publicKey);
  }

  /**
   * Opens the log: restores the Merkle frontier from the last checkpoint (checked against its
   * root) and extends it with the entries written since.
   */
  static async open(store: AuditStore, opts: AuditLogOptions): Promise<AuditLog> {
    const last = await store.auditCheckpointBefore(Number.MAX_SAFE_INTEGER);
    let frontier = last ? MerkleFrontier.restore(last.atSeq + 1, last.frontier) : MerkleFrontier.empty();
    if (last && frontier?.root() !== last.merkleRoot) frontier = undefined;
    // No usable checkpoint: rebuild from the first entry.
    const start = frontier && last ? last.atSeq + 1 : 0;
    const tip: Tip = {
      seq: start - 1,
      hash: null,
      frontier: frontier ?? MerkleFrontier.empty(),
      genesisMs: null,
      lastCheckpoint: last ? { checkpoint: last.checkpoint, atSeq: last.atSeq, ms: Date.parse(last.ts) } : null,
    };
    if (start > 0) tip.hash = (await store.readAuditEntries(start - 1, start - 1, 1))[0]?.hash ?? null;
    const log = new AuditLog(store, opts, tip);
    for (let from = start; ; ) {
      const page = await store.readAuditEntries(from, Number.MAX_SAFE_INTEGER, PAGE);
      for (const e of page) log.adopt(tip, e);
      if (page.length < PAGE) break;
      from = (page.at(-1) as AuditEntry).seq + 1;
    }
    if (tip.genesisMs === null && tip.seq >= 0) {
      const first = (await store.readAuditEntries(0, 0, 1))[0];
      tip.genesisMs = first ? Date.parse(first.ts) : null;
    }
    log.armTimer();
    return log;
  }

  /** Extends `t` with an entry another writer (or an earlier process) committed. */
  private adopt(t: Tip, e: AuditEntry): void {
    if (e.seq !== t.seq + 1) throw new Error(`audit log is not contiguous at ${t.seq + 1} (found ${e.seq})`);
    t.frontier.push(e.hash);
    t.seq = e.seq;
    t.hash = e.hash;
    if (e.seq === 0) t.genesisMs = Date.parse(e.ts);
  }

  /** Sequence of the last entry written (-1 when empty). */
  get lastSeq(): number {
    return this.tip.seq;
  }

  /** Appends one entry; resolves once it is committed. */
  append(record: AuditRecord): Promise<AuditEntry> {
    if (this.closed) return Promise.reject(new Error('audit log is closed'));
    return new Promise<AuditEntry>((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      this.kick();
    });
  }

  /**
   * Writes a checkpoint if one is due (`force`: if any entry is not yet covered). Resolves
   * with the checkpoint written, if any.
   */
  async checkpoint(force = false): Promise<AuditCheckpoint | undefined> {
    const before = this.tip.lastCheckpoint?.checkpoint ?? 0;
    if (force) this.forceCheckpoint = true;
    else this.wantEvaluation = true;
    this.kick();
    await this.draining;
    const after = this.tip.lastCheckpoint;
    if (!after || after.checkpoint === before) return undefined;
    return (await this.store.listAuditCheckpoints(after.atSeq, after.atSeq, 1))[0];
  }

  /** Waits for queued appends, then stops the checkpoint timer. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.draining) await this.draining;
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.queue.length > 0 || this.wantEvaluation || this.forceCheckpoint) this.kick();
      else this.armTimer();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 || this.wantEvaluation || this.forceCheckpoint) {
      // A batch never crosses the next count-based checkpoint, so checkpoints land every N entries.
      const unsigned = this.tip.seq - (this.tip.lastCheckpoint?.atSeq ?? -1);
      const batch = this.queue.splice(0, Math.max(1, Math.min(BATCH, this.checkpointEntries - unsigned)));
      const force = this.forceCheckpoint;
      this.forceCheckpoint = false;
      this.wantEvaluation = false;
      try {
        const entries = await this.write(
          batch.map((p) => p.record),
          force,
        );
        for (const [i, p] of batch.entries()) p.resolve(entries[i] as AuditEntry);
        this.retryDelayMs = 0;
      } catch (err) {
        for (const p of batch) p.reject(err);
        this.retryDelayMs = 5000;
        if (batch.length === 0) this.opts.onError?.(err);
      }
    }
  }

  /**
   * A rider carrying `record(run)` into a run's creation transaction (`RunStore.createRun`):
   * after the creation resolved, {@link AuditLog.settle} adopts the entry the store wrote, or
   * appends the record now when the store did not take the rider (Postgres, memory).
   */
  rider(record: (run: RunRecord) => AuditRecord): AuditRider & { staged?: Tip; record?: AuditRecord } {
    const log = this;
    const r: AuditRider & { staged?: Tip; record?: AuditRecord } = {
      kind: 'audit',
      taken: false,
      // Read by the store inside the transaction: the last state staged, when newer than the tip.
      get afterSeq() {
        const staged = log.lastStaged;
        return staged && staged.seq > log.tip.seq ? staged.seq : log.tip.seq;
      },
      get committedSeq() {
        return log.tip.seq;
      },
      build: (state, run) => {
        const rec = record(run);
        r.record = rec;
        const { out, staged } = this.stage([rec], false, state, this.now());
        r.staged = staged;
        return out;
      },
    };
    return r;
  }

  /** Finishes a {@link AuditLog.rider} once the run's creation resolved. */
  async settle(rider: ReturnType<AuditLog['rider']>, record: AuditRecord): Promise<AuditEntry> {
    const entry = rider.written?.entries[0];
    if (!rider.taken || !entry || !rider.staged) return this.append(record);
    this.adoptStaged(rider.staged);
    this.armTimer();
    return entry;
  }

  /**
   * Moves the tip forward to a committed state, never back: writes may settle out of order, and
   * the later one in commit order has the greater (last entry, last checkpoint).
   */
  private adoptStaged(staged: Tip): void {
    const cp = (t: Tip): number => t.lastCheckpoint?.checkpoint ?? 0;
    if (staged.seq > this.tip.seq || (staged.seq === this.tip.seq && cp(staged) >= cp(this.tip))) this.tip = staged;
  }

  /** Chains `records` onto the store's state (inside its audit lock) and checkpoints if due. */
  private stage(records: readonly AuditRecord[], force: boolean, state: AuditWriteState, nowMs: number): { out: AuditWrite; staged: Tip } {
    const ts = new Date(nowMs).toISOString();
    const base = this.stagedMatching(state) ?? this.tip;
    const t: Tip = { ...base, frontier: base.frontier.clone() };
    // Entries this log already adopted (another write settled first) are skipped.
    for (const e of state.newer) if (e.seq > t.seq) this.adopt(t, e);
    if ((state.tip?.seq ?? -1) !== t.seq) throw new Error(`audit log tip is ${state.tip?.seq ?? -1}, expected ${t.seq}: refusing to append`);
    const lc = state.lastCheckpoint;
    t.lastCheckpoint = lc ? { checkpoint: lc.checkpoint, atSeq: lc.atSeq, ms: Date.parse(lc.ts) } : null;
    const entries = records.map((r): AuditEntry => {
      const base = {
        seq: t.seq + 1,
        ts,
        tenant: r.tenant,
        principal: r.principal,
        action: r.action,
        target: r.target,
        details: { ...(r.details ?? {}) } as Record<string, unknown>,
        prevHash: t.hash,
      };
      const e: AuditEntry = { ...base, hash: entryHash(base) };
      this.adopt(t, e);
      return e;
    });
    const out: AuditWrite = { entries };
    if (this.isDue(t, nowMs, force)) {
      const c = { checkpoint: checkpointId((t.lastCheckpoint?.checkpoint ?? 0) + 1), atSequence: t.seq, merkleRoot: t.frontier.root() };
      out.checkpoint = {
        checkpoint: (t.lastCheckpoint?.checkpoint ?? 0) + 1,
        atSeq: t.seq,
        merkleRoot: c.merkleRoot,
        signature: signCheckpoint(this.opts.signingKey.privateKey, c),
        keyId: this.keyId,
        ts,
        frontier: t.frontier.roots(),
      };
      t.lastCheckpoint = { checkpoint: out.checkpoint.checkpoint, atSeq: t.seq, ms: nowMs };
    }
    this.lastStaged = t;
    return { out, staged: t };
  }

  /**
   * The last state this log staged, when it is exactly the store's current state (same last
   * entry hash — which pins every entry before it — and same last checkpoint): several writes
   * in one group transaction then chain on each other without re-adopting each other's entries.
   * A staged state whose transaction rolled back no longer matches and is ignored.
   */
  private stagedMatching(state: AuditWriteState): Tip | undefined {
    const s = this.lastStaged;
    if (!s || !state.tip || s.seq <= this.tip.seq) return undefined;
    if (s.seq !== state.tip.seq || s.hash !== state.tip.hash) return undefined;
    return (s.lastCheckpoint?.checkpoint ?? 0) === (state.lastCheckpoint?.checkpoint ?? 0) ? s : undefined;
  }

  /** One transaction: catch up with other writers, chain the records, checkpoint if due. */
  private async write(records: AuditRecord[], force: boolean): Promise<AuditEntry[]> {
    const nowMs = this.now();
    let staged: Tip | undefined;
    const write = await this.store.appendAudit(this.tip.seq, (state): AuditWrite => {
      const r = this.stage(records, force, state, nowMs);
      staged = r.staged;
      return r.out;
    });
    if (staged) this.adoptStaged(staged);
    return write.entries;
  }

  /** True when entries are unsigned and the count or the age threshold is reached. */
  private isDue(t: Tip, nowMs: number, force: boolean): boolean {
    const covered = t.lastCheckpoint?.atSeq ?? -1;
    if (t.seq <= covered) return false;
    if (force || t.seq - covered >= this.checkpointEntries) return true;
    const since = t.lastCheckpoint?.ms ?? t.genesisMs;
    return since !== null && nowMs - since >= this.checkpointSeconds * 1000;
  }

  /** Schedules the time-based checkpoint for the oldest unsigned entries. */
  private armTimer(): void {
    if (this.closed || this.timer || this.opts.timers === false) return;
    const t = this.tip;
    if (t.seq <= (t.lastCheckpoint?.atSeq ?? -1)) return;
    const since = t.lastCheckpoint?.ms ?? t.genesisMs ?? this.now();
    const delay = Math.max(this.retryDelayMs, since + this.checkpointSeconds * 1000 - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.wantEvaluation = true;
      this.kick();
    }, delay);
    this.timer.unref();
  }

  /** The `auth` discovery contribution. */
  advertisement(): AuthAdvertisement {
    return {
      profiles: ['openwop-audit-log-integrity'],
      blocks: {
        auditLogIntegrity: {
          hashChain: true,
          checkpointSignatureAlgorithm: 'ed25519',
          checkpointPublicKey: rawPublicKeyBase64(this.opts.signingKey.publicKey),
          checkpointIntervalEntries: this.checkpointEntries,
          checkpointIntervalSeconds: this.checkpointSeconds,
        },
      },
    };
  }

  /**
   * Re-walks entries [fromSeq, toSeq]: recomputes every entry's hash from its content, checks
   * each `prevHash` link (a break is reported at the entry whose `prevHash` no longer matches;
   * the last entry of the range, which may have no successor yet, is also checked against its
   * own stored hash), and checks every checkpoint with `atSequence` in the range: its Ed25519
   * signature and its Merkle root recomputed from the entries' content.
   */
  async verify(fromSeq: number, toSeq: number): Promise<AuditVerifyResult> {
    const anomalies: AuditAnomaly[] = [];
    const computed = new Map<number, string>();
    let prevSeq = fromSeq - 1;
    let prevHash: string | null | undefined = fromSeq === 0 ? null : undefined;
    if (fromSeq > 0) {
      const before = (await this.store.readAuditEntries(fromSeq - 1, fromSeq - 1, 1))[0];
      if (before) prevHash = entryHash(before);
    }
    let last: AuditEntry | undefined;
    for (let from = fromSeq; from <= toSeq; ) {
      const page = await this.store.readAuditEntries(from, toSeq, PAGE);
      for (const e of page) {
        const h = entryHash(e);
        computed.set(e.seq, h);
        const expected = e.seq === 0 ? null : e.seq === prevSeq + 1 ? prevHash : undefined;
        if (expected === undefined) anomalies.push({ atSeq: e.seq, expectedPrevHash: `missing:${e.seq - 1}`, actualPrevHash: e.prevHash ?? '' });
        else if (e.prevHash !== expected) anomalies.push({ atSeq: e.seq, expectedPrevHash: expected ?? 'null', actualPrevHash: e.prevHash ?? '' });
        prevSeq = e.seq;
        prevHash = h;
        last = e;
      }
      if (page.length < PAGE) break;
      from = (page.at(-1) as AuditEntry).seq + 1;
    }
    if (last && computed.get(last.seq) !== last.hash) {
      anomalies.push({ atSeq: last.seq, expectedPrevHash: computed.get(last.seq) as string, actualPrevHash: last.hash });
    }

    const stored = await this.store.listAuditCheckpoints(fromSeq, toSeq, MAX_VERIFY_RANGE);
    const checkpoints: AuditCheckpointView[] = stored.map((c) => ({
      checkpoint: checkpointId(c.checkpoint),
      atSequence: c.atSeq,
      merkleRoot: c.merkleRoot,
      signature: c.signature,
    }));
    const checkpointsValid = await this.verifyCheckpoints(stored, computed);
    return {
      fromSeq,
      toSeq,
      chainValid: anomalies.length === 0 && checkpointsValid,
      checkpointsValid,
      checkpoints,
      anomalies,
    };
  }

  /** Checks signatures and recomputes each checkpoint's root from the entries' content. */
  private async verifyCheckpoints(cps: AuditCheckpoint[], computed: Map<number, string>): Promise<boolean> {
    const first = cps[0];
    if (!first) return true;
    const pub = this.opts.signingKey.publicKey;
    const signed = (c: AuditCheckpoint): boolean =>
      verifyCheckpoint(pub, { checkpoint: checkpointId(c.checkpoint), atSequence: c.atSeq, merkleRoot: c.merkleRoot, signature: c.signature });
    // Start from the checkpoint before the range when its stored frontier matches its signed root.
    const base = await this.store.auditCheckpointBefore(first.atSeq);
    let frontier = base && signed(base) ? MerkleFrontier.restore(base.atSeq + 1, base.frontier) : undefined;
    if (base && frontier?.root() !== base.merkleRoot) frontier = undefined;
    frontier ??= MerkleFrontier.empty();
    let valid = true;
    for (const c of cps) {
      let ok = signed(c) && (await this.extend(frontier, c.atSeq, computed));
      ok = ok && frontier.root() === c.merkleRoot;
      valid = valid && ok;
      if (frontier.size !== c.atSeq + 1) break; // entries are missing: later roots cannot match either
    }
    return valid;
  }

  /** Pushes the recomputed hashes of entries frontier.size..upTo; false when one is missing. */
  private async extend(frontier: MerkleFrontier, upTo: number, computed: Map<number, string>): Promise<boolean> {
    while (frontier.size <= upTo) {
      const seq = frontier.size;
      const known = computed.get(seq);
      if (known !== undefined) {
        frontier.push(known);
        continue;
      }
      const page = await this.store.readAuditEntries(seq, upTo, PAGE);
      if (page[0]?.seq !== seq) return false;
      for (const e of page) {
        if (e.seq !== frontier.size) return false;
        frontier.push(computed.get(e.seq) ?? entryHash(e));
      }
    }
    return true;
  }
}
