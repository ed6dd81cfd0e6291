/**
 * The in-memory {@link Store}: for unit tests and `--store memory`. It implements the same
 * contract as the SQL stores (fencing, tenant binding, idempotency states) so the run,
 * workflow and idempotency contract suites run against it unchanged. Nothing survives the
 * process. Managed keys and the audit log are not engine ports: their in-memory stores, and
 * `MemoryHostStore` combining all, live in `@weft/store-kit`.
 */
import { TERMINAL_STATUSES, WAITING_STATUSES } from '@weft/contract';
import {
  LeaseLostError,
  type CommandOutcome,
  type CommandRow,
  type EncodedEvent,
  type ExpiredRun,
  type InvocationClaim,
  type InvocationRecord,
  type FinishedCommands,
  type OutboxRow,
  type IdempotencyClaim,
  type IdempotencyClaimResult,
  type IdempotencyCompletion,
  type CreateRunRider,
  type RunListQuery,
  type RunProjection,
  type RunRecord,
  type Store,
  type StoredWorkflow,
  type TimerChanges,
  type TimerRow,
} from './ports.js';

interface IdemRow {
  requestHash: string;
  state: 'pending' | 'done';
  owner: string;
  createdAt: number;
  expiresAt: number;
  response?: { status: number; body: string };
}

const clone = <T>(v: T): T => structuredClone(v);

/** An outbox row as the memory store keeps it (the host store claims and finishes these). */
export interface MemoryOutboxEntry extends OutboxRow {
  /** `<runId>.<sequence>`. */
  deliveryId: string;
  state: 'pending' | 'dead';
  attempts: number;
  availableAt: number;
  leaseOwner: string | null;
  leaseUntil: number | null;
  lastError: string | null;
  createdAt: number;
}

export class MemoryStore implements Store {
  /** Outbox rows by `tenant \0 webhookId \0 deliveryId`, written by {@link MemoryStore.appendEvents}. */
  protected readonly outboxRows = new Map<string, MemoryOutboxEntry>();
  readonly kind = 'memory' as const;
  readonly shared = false;
  private readonly workflows = new Map<string, StoredWorkflow>(); // by hash
  private readonly workflowIds = new Map<string, string>(); // id -> hash
  private readonly runs = new Map<string, RunRecord>();
  private readonly events = new Map<string, EncodedEvent[]>();
  private readonly timers = new Map<string, Map<string, TimerRow>>();
  private readonly idem = new Map<string, IdemRow>();
  /** run_commands in insertion order. */
  private readonly commands = new Map<string, CommandRow>();
  private readonly invocations = new Map<string, InvocationRecord>();
  private readonly expired = new Map<string, ExpiredRun>();

  async migrate(): Promise<void> {}
  async close(): Promise<void> {}

  async putWorkflow(wf: StoredWorkflow): Promise<void> {
    if (!this.workflows.has(wf.hash)) this.workflows.set(wf.hash, clone(wf));
    this.workflowIds.set(wf.id, wf.hash);
  }
  async getWorkflow(id: string): Promise<StoredWorkflow | undefined> {
    const h = this.workflowIds.get(id);
    return h ? clone(this.workflows.get(h)) : undefined;
  }
  async getWorkflowByHash(hash: string): Promise<StoredWorkflow | undefined> {
    const wf = this.workflows.get(hash);
    return wf ? clone(wf) : undefined;
  }
  async listWorkflows(): Promise<StoredWorkflow[]> {
    return [...this.workflowIds.keys()].sort().map((id) => clone(this.workflows.get(this.workflowIds.get(id) as string) as StoredWorkflow));
  }
  async deleteWorkflow(id: string): Promise<boolean> {
    return this.workflowIds.delete(id);
  }

  /** A rider is never taken here: the host writes it afterwards (its `taken` stays false). */
  async createRun(run: RunRecord, idem?: IdempotencyCompletion, _rider?: CreateRunRider): Promise<void> {
    if (this.runs.has(run.runId)) throw new Error(`duplicate run ${run.runId}`);
    if (idem) this.finishIdem(idem);
    this.runs.set(run.runId, clone(run));
    this.events.set(run.runId, []);
  }
  async getRun(tenant: string, runId: string): Promise<RunRecord | undefined> {
    const r = this.runs.get(runId);
    return r && r.tenant === tenant ? clone(r) : undefined;
  }
  async getRunInternal(runId: string): Promise<RunRecord | undefined> {
    const r = this.runs.get(runId);
    return r ? clone(r) : undefined;
  }
  async listRuns(tenant: string, q: RunListQuery): Promise<RunRecord[]> {
    const rows = [...this.runs.values()].filter(
      (r) =>
        r.tenant === tenant &&
        (!q.status || r.projection.status === q.status) &&
        (!q.workflowId || r.workflowId === q.workflowId) &&
        (!q.before || r.createdAt < q.before.createdAt || (r.createdAt === q.before.createdAt && r.runId < q.before.runId)),
    );
    rows.sort((a, b) => (a.createdAt === b.createdAt ? (a.runId < b.runId ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
    return rows.slice(0, q.limit).map(clone);
  }

  async appendEvents(
    runId: string,
    epoch: number,
    events: EncodedEvent[],
    projection: RunProjection,
    timers?: TimerChanges,
    finished?: FinishedCommands,
    outbox?: { rows: readonly OutboxRow[]; now: number },
  ): Promise<void> {
    const run = this.runs.get(runId);
    if (!run || run.leaseEpoch !== epoch) throw new LeaseLostError(runId);
    const log = this.events.get(runId) as EncodedEvent[];
    let next = log.length;
    for (const e of events) {
      if (e.sequence !== next) throw new Error(`sequence gap on ${runId}: expected ${next}, got ${e.sequence}`);
      next++;
    }
    for (const e of events) log.push({ ...e });
    run.projection = clone(projection);
    if (TERMINAL_STATUSES.has(projection.status)) {
      run.leaseOwner = null;
      run.leaseExpiresAt = null;
      run.cancelRequested = run.cancelRequested ?? null;
    }
    this.applyTimers(runId, timers);
    if (finished) this.finish(finished.outcomes);
    for (const r of outbox?.rows ?? []) {
      const deliveryId = `${r.runId}.${r.sequence}`;
      const k = `${r.tenant}\u0000${r.webhookId}\u0000${deliveryId}`;
      if (this.outboxRows.has(k)) continue;
      this.outboxRows.set(k, {
        ...r,
        deliveryId,
        state: 'pending',
        attempts: 0,
        availableAt: outbox?.now ?? 0,
        leaseOwner: null,
        leaseUntil: null,
        lastError: null,
        createdAt: outbox?.now ?? 0,
      });
    }
  }

  private applyTimers(runId: string, t: TimerChanges | undefined): void {
    if (!t) return;
    let m = this.timers.get(runId);
    if (t.clearAll) {
      this.timers.delete(runId);
      m = undefined;
    }
    if (t.clear && m) for (const k of t.clear) m.delete(k);
    if (t.set?.length) {
      if (!m) {
        m = new Map();
        this.timers.set(runId, m);
      }
      for (const row of t.set) m.set(row.key, { ...row });
    }
  }

  async readEvents(runId: string, afterSequence: number, limit: number): Promise<EncodedEvent[]> {
    const log = this.events.get(runId) ?? [];
    return log.slice(Math.max(0, afterSequence + 1), Math.max(0, afterSequence + 1) + limit).map((e) => ({ ...e }));
  }

  async requestCancel(tenant: string, runId: string, reason: string | undefined, by: string): Promise<RunRecord | undefined> {
    const r = this.runs.get(runId);
    if (!r || r.tenant !== tenant) return undefined;
    if (!TERMINAL_STATUSES.has(r.projection.status) && !r.cancelRequested) {
      r.cancelRequested = reason === undefined ? { by } : { reason, by };
    }
    return clone(r);
  }

  async claimRun(runId: string, owner: string, ttlMs: number, now: number, force = false): Promise<number | null> {
    const r = this.runs.get(runId);
    if (!r || TERMINAL_STATUSES.has(r.projection.status)) return null;
    const free = r.leaseOwner === null || r.leaseExpiresAt === null || r.leaseExpiresAt <= now;
    if (!free && r.leaseOwner !== owner && !force) return null;
    r.leaseOwner = owner;
    r.leaseEpoch += 1;
    r.leaseExpiresAt = now + ttlMs;
    return r.leaseEpoch;
  }
  async renewLeases(owner: string, ttlMs: number, now: number): Promise<void> {
    for (const r of this.runs.values()) if (r.leaseOwner === owner) r.leaseExpiresAt = now + ttlMs;
  }
  async listRecoverableRuns(now: number, limit: number, includeLeased = false): Promise<string[]> {
    const out: string[] = [];
    for (const r of this.runs.values()) {
      if (out.length >= limit) break;
      if (TERMINAL_STATUSES.has(r.projection.status)) continue;
      if (WAITING_STATUSES.has(r.projection.status) && !r.cancelRequested) continue;
      const free = r.leaseOwner === null || r.leaseExpiresAt === null || r.leaseExpiresAt <= now;
      if (free || includeLeased) out.push(r.runId);
    }
    return out;
  }

  async enqueueCommand(cmd: Omit<CommandRow, 'state' | 'result'>): Promise<boolean> {
    if (this.commands.has(cmd.id)) return false;
    this.commands.set(cmd.id, { ...cmd, state: 'pending', result: null });
    return true;
  }

  async pendingCommands(runId: string): Promise<CommandRow[]> {
    const out: CommandRow[] = [];
    for (const c of this.commands.values()) if (c.runId === runId && c.state === 'pending') out.push({ ...c });
    return out;
  }

  async finishCommands(outcomes: readonly CommandOutcome[], _now: number): Promise<void> {
    this.finish(outcomes);
  }

  private finish(outcomes: readonly CommandOutcome[]): void {
    for (const o of outcomes) {
      const c = this.commands.get(o.id);
      if (c?.state === 'pending') this.commands.set(o.id, { ...c, state: o.state, result: o.result });
    }
  }

  async getCommand(id: string): Promise<CommandRow | undefined> {
    const c = this.commands.get(id);
    return c && { ...c };
  }

  async listDueTimers(now: number, limit: number): Promise<TimerRow[]> {
    const due: TimerRow[] = [];
    for (const m of this.timers.values()) for (const t of m.values()) if (t.fireAt <= now) due.push({ ...t });
    due.sort((a, b) => a.fireAt - b.fireAt);
    return due.slice(0, limit);
  }
  async nextTimerAt(): Promise<number | null> {
    let min: number | null = null;
    for (const m of this.timers.values()) for (const t of m.values()) if (min === null || t.fireAt < min) min = t.fireAt;
    return min;
  }

  private idemKey(tenant: string, route: string, key: string): string {
    return `${tenant}\u0000${route}\u0000${key}`;
  }
  async claimIdempotency(c: IdempotencyClaim): Promise<IdempotencyClaimResult> {
    const k = this.idemKey(c.tenant, c.route, c.key);
    const row = this.idem.get(k);
    if (row && row.expiresAt <= c.now) this.idem.delete(k);
    const cur = this.idem.get(k);
    if (!cur) {
      this.idem.set(k, { requestHash: c.requestHash, state: 'pending', owner: c.owner, createdAt: c.now, expiresAt: c.now + c.retentionMs });
      return { kind: 'claimed' };
    }
    if (cur.requestHash !== c.requestHash) return { kind: 'mismatch' };
    if (cur.state === 'done' && cur.response) return { kind: 'replay', response: { ...cur.response } };
    if (cur.createdAt + c.pendingTtlMs <= c.now) {
      cur.owner = c.owner;
      cur.createdAt = c.now;
      return { kind: 'claimed' };
    }
    return { kind: 'in-flight' };
  }
  private finishIdem(d: IdempotencyCompletion): void {
    const row = this.idem.get(this.idemKey(d.tenant, d.route, d.key));
    if (row && row.owner === d.owner) {
      row.state = 'done';
      row.response = { ...d.response };
    }
  }
  async completeIdempotency(d: IdempotencyCompletion): Promise<void> {
    this.finishIdem(d);
  }
  async releaseIdempotency(tenant: string, route: string, key: string, owner: string): Promise<void> {
    const k = this.idemKey(tenant, route, key);
    const row = this.idem.get(k);
    if (row && row.state === 'pending' && row.owner === owner) this.idem.delete(k);
  }
  async claimInvocation(r: Omit<InvocationRecord, 'state' | 'outcome' | 'calls' | 'updatedAt'>): Promise<InvocationClaim> {
    const cur = this.invocations.get(r.id);
    if (cur && cur.state !== 'pending') return { kind: 'recorded', record: { ...cur } };
    const next: InvocationRecord = cur
      ? { ...cur, attempt: r.attempt, calls: cur.calls + 1, updatedAt: r.createdAt }
      : { ...r, state: 'pending', outcome: null, calls: 1, updatedAt: r.createdAt };
    this.invocations.set(r.id, next);
    return { kind: 'claimed', calls: next.calls };
  }

  async recordInvocation(id: string, state: 'done' | 'failed', outcome: string, now: number): Promise<void> {
    const cur = this.invocations.get(id);
    if (cur?.state === 'pending') this.invocations.set(id, { ...cur, state, outcome, updatedAt: now });
  }

  async releaseInvocation(id: string): Promise<void> {
    if (this.invocations.get(id)?.state === 'pending') this.invocations.delete(id);
  }

  async listInvocations(runId: string): Promise<InvocationRecord[]> {
    return [...this.invocations.values()]
      .filter((r) => r.runId === runId)
      .sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : a.ordinal - b.ordinal))
      .map((r) => ({ ...r }));
  }

  async purgeExpiredInvocations(now: number): Promise<number> {
    let n = 0;
    for (const [id, r] of this.invocations) if (r.expiresAt <= now && this.invocations.delete(id)) n++;
    return n;
  }

  async purgeExpiredIdempotency(now: number): Promise<number> {
    let n = 0;
    for (const [k, row] of this.idem)
      if (row.expiresAt <= now) {
        this.idem.delete(k);
        n++;
      }
    return n;
  }

  async expireRuns(endedBefore: number, limit: number, now: number): Promise<ExpiredRun[]> {
    const cutoff = new Date(endedBefore).toISOString();
    const doomed = [...this.runs.values()]
      .filter((r) => TERMINAL_STATUSES.has(r.projection.status) && r.createdAt < cutoff && (r.projection.endedAt ?? r.createdAt) < cutoff)
      .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.runId < b.runId ? -1 : 1))
      .slice(0, limit);
    const out: ExpiredRun[] = [];
    for (const r of doomed) {
      this.runs.delete(r.runId);
      this.events.delete(r.runId);
      this.timers.delete(r.runId);
      for (const [id, c] of this.commands) if (c.runId === r.runId) this.commands.delete(id);
      for (const [id, inv] of this.invocations) if (inv.runId === r.runId) this.invocations.delete(id);
      const t = { runId: r.runId, tenant: r.tenant, expiredAt: now };
      this.expired.set(r.runId, t);
      out.push({ ...t });
    }
    return out;
  }

  async getExpiredRun(tenant: string, runId: string): Promise<ExpiredRun | undefined> {
    const t = this.expired.get(runId);
    return t && t.tenant === tenant ? { ...t } : undefined;
  }
}
