/**
 * The embedded {@link HostStore}: one SQLite file in WAL mode through better-sqlite3. Every write
 * that must be atomic (append + projection + timers, run + idempotency completion,
 * idempotency claims) runs in one `BEGIN IMMEDIATE` transaction, which takes the write lock
 * up front so a second process on the same file waits (busy_timeout) instead of failing on
 * a lock upgrade halfway through.
 *
 * better-sqlite3 is synchronous; the async methods exist to satisfy the port and resolve
 * after the statement has run.
 *
 * @see execution-semantics.md §5
 */
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { GroupCommit } from './group-commit.js';
import { TERMINAL_STATUSES } from '@weft/contract';
import {
  LeaseLostError,
  type CommandOutcome,
  type CommandRow,
  type EncodedEvent,
  type FinishedCommands,
  type OutboxRow,
  type IdempotencyClaim,
  type IdempotencyClaimResult,
  type IdempotencyCompletion,
  type CreateRunRider,
  type RunListQuery,
  type RunProjection,
  type RunRecord,
  type StoredWorkflow,
  type TimerChanges,
  type TimerRow,
  type InvocationStore,
  type RetentionStore,
} from '@weft/engine';
import {
  API_KEY_COLUMNS,
  AUDIT_COLUMNS,
  CHECKPOINT_COLUMNS,
  RUN_COLUMNS,
  RUN_INSERT_COLUMNS,
  TERMINAL_SQL,
  WAITING_SQL,
  checkAuditWrite,
  isAuditRider,
  runInsertValues,
  sharedStatements,
  sqliteDialect,
  toApiKey,
  toApiKeyRow,
  toAuditEntry,
  toAuditRow,
  toCheckpoint,
  toCheckpointRow,
  toEvent,
  toRunRecord,
  toTimer,
  toWorkflow,
  type ApiKeyRecord,
  type ApiKeyRow as SharedApiKeyRow,
  type ApiKeySuccessor,
  type AuditCheckpoint,
  type AuditEntry,
  type AuditRow,
  type AuditRider,
  type AuditWrite,
  type AuditWriteState,
  type CheckpointRow as SharedCheckpointRow,
  type EventRow,
  type HostStore,
  type IdemRow as SharedIdemRow,
  type RotateApiKeyResult,
  type RunRow,
  type TimerDbRow,
  type WorkflowRow,
  forwardMethods,
  INVOCATION_STORE_METHODS,
  RETENTION_STORE_METHODS,
  SECRET_STORE_METHODS,
  WEBHOOK_OUTBOX_METHODS,
  WEBHOOK_STORE_METHODS,
  type SecretStore,
  type WebhookOutboxStore,
  type WebhookStore,
} from '@weft/store-kit';
import { SqliteCommands } from './commands.js';
import { SqliteInvocations } from './invocations.js';
import { SqliteRetention } from './retention.js';
import { SqliteSecrets } from './secrets.js';
import { SqliteWebhooks } from './webhooks.js';
import { applyMigrations, loadMigrations } from './migrator.js';

/** Options of {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /** Database file, or `:memory:` for a private database that dies with the store. */
  path: string;
  /** How long a write waits for another connection's lock before failing. Default 5000 ms. */
  busyTimeoutMs?: number;
}

/** SQLite returns INTEGER columns as numbers; the rows compared or bound here say so. */
type IdemRow = SharedIdemRow<number>;
type ApiKeyRow = SharedApiKeyRow<number>;
type CheckpointRow = SharedCheckpointRow<number>;
/** The values of a new run row, in `RUN_INSERT_COLUMNS` order. */
type RunInsert = ReturnType<typeof runInsertValues>;

/** Statements of the managed-key and audit tables (prepared on first use, like {@link Prepared}). */
interface PreparedSecurity {
  insertKey: Stmt<ApiKeyRow>;
  getKey: Stmt<[string], ApiKeyRow>;
  getKeyByHash: Stmt<[string], ApiKeyRow>;
  listKeys: Stmt<[], ApiKeyRow>;
  listKeysOfTenant: Stmt<[string], ApiKeyRow>;
  revokeKey: Stmt<[number, string]>;
  markRotated: Stmt<[number, string]>;
  touchKey: Stmt<[number, string]>;
  auditTip: Stmt<[], { seq: number; hash: string }>;
  auditAfter: Stmt<[number], AuditRow>;
  insertAudit: Stmt<AuditRow>;
  readAudit: Stmt<[number, number, number], AuditRow>;
  lastCheckpoint: Stmt<[], CheckpointRow>;
  insertCheckpoint: Stmt<CheckpointRow>;
  listCheckpoints: Stmt<[number, number, number], CheckpointRow>;
  checkpointBefore: Stmt<[number], CheckpointRow>;
  revokeTx: Database.Transaction<(keyId: string, at: number, tenant: string | undefined) => ApiKeyRow | undefined>;
  rotateTx: Database.Transaction<
    (keyId: string, successor: ApiKeySuccessor, graceUntil: number, now: number, tenant: string | undefined) => RotateApiKeyResult
  >;
  auditTx: Database.Transaction<(afterSeq: number, build: (state: AuditWriteState) => AuditWrite) => AuditWrite>;
}

/** The statements both SQL stores share, spelled for SQLite. */
const SQL = sharedStatements(sqliteDialect);

/** A lease is free when nobody holds it or it has expired. */
const LEASE_FREE = '(lease_owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at <= @now)';

type Stmt<P extends unknown[] | object, R = unknown> = Database.Statement<P, R>;

/** Every statement, prepared once on first use (the tables exist only after migrate()). */
interface Prepared {
  insertWorkflow: Stmt<[string, string, string, string, string]>;
  mapWorkflowId: Stmt<[string, string]>;
  getWorkflow: Stmt<[string], WorkflowRow>;
  getWorkflowByHash: Stmt<[string], WorkflowRow>;
  listWorkflows: Stmt<[], WorkflowRow>;
  deleteWorkflow: Stmt<[string]>;
  insertRun: Stmt<RunInsert>;
  getRun: Stmt<[string, string], RunRow>;
  getRunInternal: Stmt<[string], RunRow>;
  leaseState: Stmt<[string], { lease_epoch: number; last_sequence: number }>;
  insertEvent: Stmt<[string, number, string, string | null, string]>;
  updateProjection: Stmt<{ run_id: string; projection_json: string; status: string; last_sequence: number; terminal: number }>;
  deleteTimers: Stmt<[string]>;
  deleteTimer: Stmt<[string, string]>;
  upsertTimer: Stmt<[string, string, number]>;
  readEvents: Stmt<[string, number, number], EventRow>;
  requestCancel: Stmt<[string, string, string]>;
  claimRun: Stmt<{ run_id: string; owner: string; now: number; expires_at: number; force: number }, { lease_epoch: number }>;
  renewLeases: Stmt<[number, string]>;
  heartbeat: Stmt<[string, number]>;
  processLive: Stmt<[string, number], { one: number }>;
  recoverable: Stmt<{ now: number; limit: number; include_leased: number }, { run_id: string }>;
  dueTimers: Stmt<[number, number], TimerDbRow>;
  nextTimer: Stmt<[], { fire_at: number | null }>;
  idemGet: Stmt<[string, string, string], IdemRow>;
  idemDelete: Stmt<[string, string, string]>;
  idemInsert: Stmt<[string, string, string, string, string, string | null, number, number]>;
  idemReclaim: Stmt<[string, string | null, number, string, string, string]>;
  idemComplete: Stmt<[number, string, string, string, string, string]>;
  idemRelease: Stmt<[string, string, string, string]>;
  idemPurge: Stmt<[number]>;
  putWorkflowTx: Database.Transaction<(wf: StoredWorkflow) => void>;
  createRunTx: Database.Transaction<(row: RunInsert, idem: IdempotencyCompletion | undefined, audit: (() => void) | undefined) => void>;
  appendTx: Database.Transaction<
    (
      runId: string,
      epoch: number,
      events: EncodedEvent[],
      status: RunProjection['status'],
      projectionJson: string,
      timers: TimerChanges | undefined,
      finished: FinishedCommands | undefined,
      outbox: { rows: readonly OutboxRow[]; now: number } | undefined,
    ) => void
  >;
  cancelTx: Database.Transaction<(tenant: string, runId: string, cancelJson: string) => RunRow | undefined>;
  claimIdemTx: Database.Transaction<(c: IdempotencyClaim) => IdempotencyClaimResult>;
}

/**
 * The database holds run inputs, outputs and key hashes: it is created owner-only (0600)
 * before SQLite opens it, and an existing file is narrowed to 0600. SQLite gives the `-wal`
 * and `-shm` files the mode of the database file.
 */
function createPrivately(path: string): void {
  if (existsSync(path)) chmodSync(path, 0o600);
  else closeSync(openSync(path, 'a', 0o600));
}

/** Narrows the WAL side files to 0600 too (files left by an older version may be wider). */
function restrictSidecars(path: string): void {
  for (const f of [`${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
}

/** The ports whose methods SqliteStore forwards to its parts (installed by `forwardMethods` below). */
export interface SqliteStore extends SecretStore, WebhookStore, WebhookOutboxStore, InvocationStore, RetentionStore {}

/**
 * {@link HostStore} on an embedded SQLite database. `shared` is false: one host process owns the
 * file (other processes may read it, e.g. the CLI).
 *
 * @see execution-semantics.md §5
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the forwarded methods are installed on the prototype right after the class.
export class SqliteStore implements HostStore {
  readonly kind = 'sqlite' as const;
  readonly shared = false;
  private readonly db: Database.Database;
  /** Creations, appends and audit batches of one event-loop turn share a transaction (decision 0027). */
  readonly groupCommit: GroupCommit;
  private prepared: Prepared | undefined;
  private preparedSecurity: PreparedSecurity | undefined;
  private preparedCommands: SqliteCommands | undefined;
  private preparedSecrets: SqliteSecrets | undefined;
  private preparedInvocations: SqliteInvocations | undefined;
  private preparedWebhooks: SqliteWebhooks | undefined;
  private preparedRetention: SqliteRetention | undefined;
  /** The host process heartbeating through this store (tags idempotency claims). */
  private process: string | undefined;
  /** listRuns has eight filter shapes; each gets its own statement with its own plan. */
  private readonly listRunsStmts = new Map<string, Stmt<Record<string, string | number>, RunRow>>();

  constructor(opts: SqliteStoreOptions) {
    const onDisk = opts.path !== ':memory:' && opts.path !== '';
    if (onDisk) createPrivately(opts.path);
    this.db = new Database(opts.path);
    // WAL lets readers run beside the writer; NORMAL syncs at checkpoints only, which in
    // WAL mode can lose the last commits on power loss but never corrupts the file.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(opts.busyTimeoutMs ?? 5000))}`);
    this.db.pragma('foreign_keys = ON');
    if (onDisk) restrictSidecars(opts.path);
    this.groupCommit = new GroupCommit(this.db);
  }

  async migrate(): Promise<void> {
    applyMigrations(this.db, loadMigrations());
  }

  async close(): Promise<void> {
    if (this.db.open) {
      this.groupCommit.flush();
      this.db.close();
    }
  }

  private get s(): Prepared {
    return (this.prepared ??= this.prepare());
  }

  /** Command rows (prepared on first use, after migrate). */
  private get cmds(): SqliteCommands {
    return (this.preparedCommands ??= new SqliteCommands(this.db));
  }

  /** Vault secrets (prepared on first use, after migrate). */
  protected get vault(): SqliteSecrets {
    return (this.preparedSecrets ??= new SqliteSecrets(this.db));
  }

  /** Webhook subscriptions and deliveries (prepared on first use, after migrate). */
  protected get hooks(): SqliteWebhooks {
    return (this.preparedWebhooks ??= new SqliteWebhooks(this.db));
  }

  async enqueueCommand(cmd: Omit<CommandRow, 'state' | 'result'>): Promise<boolean> {
    return this.cmds.enqueue(cmd);
  }

  async pendingCommands(runId: string): Promise<CommandRow[]> {
    return this.cmds.pendingOf(runId);
  }

  async finishCommands(outcomes: readonly CommandOutcome[], now: number): Promise<void> {
    this.cmds.finish(outcomes, now);
  }

  async getCommand(id: string): Promise<CommandRow | undefined> {
    return this.cmds.byId(id);
  }

  private get ks(): PreparedSecurity {
    return (this.preparedSecurity ??= this.prepareSecurity());
  }

  private prepareSecurity(): PreparedSecurity {
    const db = this.db;
    const p = {
      insertKey: db.prepare<ApiKeyRow>(
        `INSERT INTO api_keys (${API_KEY_COLUMNS}) VALUES (@key_id, @tenant, @principal, @name, @scopes_json, @hash, @created_at, @expires_at, @revoked_at, @rotated_from, @grace_until, @last_used_at)`,
      ),
      getKey: db.prepare<[string], ApiKeyRow>(`SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE key_id = ?`),
      getKeyByHash: db.prepare<[string], ApiKeyRow>(SQL.getKeyByHash),
      listKeys: db.prepare<[], ApiKeyRow>(`SELECT ${API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_id`),
      listKeysOfTenant: db.prepare<[string], ApiKeyRow>(`SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE tenant = ? ORDER BY created_at, key_id`),
      revokeKey: db.prepare<[number, string]>('UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL'),
      markRotated: db.prepare<[number, string]>('UPDATE api_keys SET grace_until = ? WHERE key_id = ?'),
      touchKey: db.prepare<[number, string]>('UPDATE api_keys SET last_used_at = ? WHERE key_id = ?'),
      auditTip: db.prepare<[], { seq: number; hash: string }>(SQL.auditTip),
      auditAfter: db.prepare<[number], AuditRow>(SQL.auditAfter),
      insertAudit: db.prepare<AuditRow>(
        `INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES (@seq, @ts, @tenant, @principal, @action, @target, @details_json, @prev_hash, @hash)`,
      ),
      readAudit: db.prepare<[number, number, number], AuditRow>(SQL.readAudit),
      lastCheckpoint: db.prepare<[], CheckpointRow>(SQL.lastCheckpoint),
      insertCheckpoint: db.prepare<CheckpointRow>(
        `INSERT INTO audit_checkpoints (${CHECKPOINT_COLUMNS}) VALUES (@checkpoint, @at_seq, @merkle_root, @signature, @key_id, @ts, @frontier_json)`,
      ),
      listCheckpoints: db.prepare<[number, number, number], CheckpointRow>(SQL.listCheckpoints),
      checkpointBefore: db.prepare<[number], CheckpointRow>(SQL.checkpointBefore),
    };
    const bound = (row: ApiKeyRow | undefined, tenant: string | undefined): ApiKeyRow | undefined =>
      row && (tenant === undefined || row.tenant === tenant) ? row : undefined;
    const revokeTx = db.transaction((keyId: string, at: number, tenant: string | undefined): ApiKeyRow | undefined => {
      const row = bound(p.getKey.get(keyId), tenant);
      if (!row) return undefined;
      p.revokeKey.run(at, keyId);
      return p.getKey.get(keyId);
    });
    const rotateTx = db.transaction(
      (keyId: string, successor: ApiKeySuccessor, graceUntil: number, now: number, tenant: string | undefined): RotateApiKeyResult => {
        const row = bound(p.getKey.get(keyId), tenant);
        if (!row) return { kind: 'not_found' };
        if (row.revoked_at !== null || row.grace_until !== null || (row.expires_at !== null && row.expires_at <= now))
          return { kind: 'conflict', old: toApiKey(row) };
        const next: ApiKeyRow = {
          ...row,
          key_id: successor.keyId,
          hash: successor.hash,
          created_at: successor.createdAt,
          expires_at: successor.expiresAt,
          revoked_at: null,
          rotated_from: row.key_id,
          grace_until: null,
          last_used_at: null,
        };
        p.insertKey.run(next);
        p.markRotated.run(graceUntil, keyId);
        return { kind: 'rotated', old: toApiKey({ ...row, grace_until: graceUntil }), next: toApiKey(next) };
      },
    );
    const auditTx = db.transaction((afterSeq: number, build: (state: AuditWriteState) => AuditWrite): AuditWrite => {
      const tip = p.auditTip.get();
      const last = p.lastCheckpoint.get();
      const write = build({
        tip: tip && { seq: tip.seq, hash: tip.hash },
        newer: p.auditAfter.all(afterSeq).map(toAuditEntry),
        lastCheckpoint: last && toCheckpoint(last),
      });
      checkAuditWrite(tip?.seq ?? -1, last?.checkpoint ?? 0, write);
      for (const e of write.entries) p.insertAudit.run(toAuditRow(e));
      const cp = write.checkpoint;
      if (cp) {
        p.insertCheckpoint.run(toCheckpointRow(cp));
      }
      return write;
    });
    return { ...p, revokeTx, rotateTx, auditTx };
  }

  private prepare(): Prepared {
    const db = this.db;
    const p = {
      insertWorkflow: db.prepare<[string, string, string, string, string]>(
        'INSERT INTO workflows (hash, id, definition_json, source, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING',
      ),
      mapWorkflowId: db.prepare<[string, string]>(`INSERT INTO workflow_ids (id, hash) VALUES (?, ?) ${sqliteDialect.upsert(['id'], ['hash'])}`),
      getWorkflow: db.prepare<[string], WorkflowRow>(SQL.getWorkflow),
      getWorkflowByHash: db.prepare<[string], WorkflowRow>(SQL.getWorkflowByHash),
      listWorkflows: db.prepare<[], WorkflowRow>(SQL.listWorkflows),
      deleteWorkflow: db.prepare<[string]>(SQL.deleteWorkflow),
      insertRun: db.prepare<RunInsert>(
        `INSERT INTO runs (${RUN_INSERT_COLUMNS}, last_sequence) VALUES (${RUN_INSERT_COLUMNS.split(',')
          .map(() => '?')
          .join(', ')}, -1)`,
      ),
      getRun: db.prepare<[string, string], RunRow>(SQL.getRun),
      getRunInternal: db.prepare<[string], RunRow>(SQL.getRunInternal),
      leaseState: db.prepare<[string], { lease_epoch: number; last_sequence: number }>(SQL.leaseState),
      insertEvent: db.prepare<[string, number, string, string | null, string]>(
        'INSERT INTO run_events (run_id, sequence, type, node_id, json) VALUES (?, ?, ?, ?, ?)',
      ),
      updateProjection: db.prepare<{ run_id: string; projection_json: string; status: string; last_sequence: number; terminal: number }>(
        `UPDATE runs SET projection_json = @projection_json, status = @status, last_sequence = @last_sequence,
           lease_owner = CASE WHEN @terminal THEN NULL ELSE lease_owner END,
           lease_expires_at = CASE WHEN @terminal THEN NULL ELSE lease_expires_at END
         WHERE run_id = @run_id`,
      ),
      deleteTimers: db.prepare<[string]>('DELETE FROM timers WHERE run_id = ?'),
      deleteTimer: db.prepare<[string, string]>('DELETE FROM timers WHERE run_id = ? AND key = ?'),
      upsertTimer: db.prepare<[string, string, number]>(
        `INSERT INTO timers (run_id, key, fire_at) VALUES (?, ?, ?) ${sqliteDialect.upsert(['run_id', 'key'], ['fire_at'])}`,
      ),
      readEvents: db.prepare<[string, number, number], EventRow>(SQL.readEvents),
      requestCancel: db.prepare<[string, string, string]>(
        `UPDATE runs SET cancel_json = ? WHERE run_id = ? AND tenant = ? AND cancel_json IS NULL AND status NOT IN ${TERMINAL_SQL}`,
      ),
      claimRun: db.prepare<{ run_id: string; owner: string; now: number; expires_at: number; force: number }, { lease_epoch: number }>(
        `UPDATE runs SET lease_owner = @owner, lease_epoch = lease_epoch + 1, lease_expires_at = @expires_at
         WHERE run_id = @run_id AND status NOT IN ${TERMINAL_SQL} AND (@force OR lease_owner = @owner OR ${LEASE_FREE})
         RETURNING lease_epoch`,
      ),
      renewLeases: db.prepare<[number, string]>(`UPDATE runs SET lease_expires_at = ? WHERE lease_owner = ? AND status NOT IN ${TERMINAL_SQL}`),
      heartbeat: db.prepare<[string, number]>(
        'INSERT INTO host_processes (process, expires_at) VALUES (?, ?) ON CONFLICT (process) DO UPDATE SET expires_at = excluded.expires_at',
      ),
      processLive: db.prepare<[string, number], { one: number }>('SELECT 1 AS one FROM host_processes WHERE process = ? AND expires_at > ?'),
      recoverable: db.prepare<{ now: number; limit: number; include_leased: number }, { run_id: string }>(
        `SELECT run_id FROM runs
         WHERE status NOT IN ${TERMINAL_SQL}
           AND (status NOT IN ${WAITING_SQL} OR cancel_json IS NOT NULL)
           AND (@include_leased OR ${LEASE_FREE})
         ORDER BY created_at, run_id LIMIT @limit`,
      ),
      dueTimers: db.prepare<[number, number], TimerDbRow>(SQL.dueTimers),
      nextTimer: db.prepare<[], { fire_at: number | null }>(SQL.nextTimer),
      idemGet: db.prepare<[string, string, string], IdemRow>(SQL.idemGet),
      idemDelete: db.prepare<[string, string, string]>('DELETE FROM idempotency WHERE tenant = ? AND route = ? AND key = ?'),
      idemInsert: db.prepare<[string, string, string, string, string, string | null, number, number]>(
        "INSERT INTO idempotency (tenant, route, key, request_hash, state, owner, process, created_at, expires_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?)",
      ),
      idemReclaim: db.prepare<[string, string | null, number, string, string, string]>(
        'UPDATE idempotency SET owner = ?, process = ?, created_at = ? WHERE tenant = ? AND route = ? AND key = ?',
      ),
      idemComplete: db.prepare<[number, string, string, string, string, string]>(
        "UPDATE idempotency SET state = 'done', status = ?, body = ? WHERE tenant = ? AND route = ? AND key = ? AND owner = ?",
      ),
      idemRelease: db.prepare<[string, string, string, string]>(SQL.idemRelease),
      idemPurge: db.prepare<[number]>(SQL.idemPurge),
    };

    const completeIdem = (d: IdempotencyCompletion): void => {
      p.idemComplete.run(d.response.status, d.response.body, d.tenant, d.route, d.key, d.owner);
    };

    const putWorkflowTx = db.transaction((wf: StoredWorkflow): void => {
      p.insertWorkflow.run(wf.hash, wf.id, JSON.stringify(wf.definition), wf.source, wf.createdAt);
      p.mapWorkflowId.run(wf.id, wf.hash);
    });

    const createRunTx = db.transaction((row: RunInsert, idem: IdempotencyCompletion | undefined, audit: (() => void) | undefined): void => {
      try {
        p.insertRun.run(...row);
      } catch (err) {
        if (isConstraint(err, 'SQLITE_CONSTRAINT_PRIMARYKEY')) throw new Error(`duplicate run ${row[0]}`, { cause: err });
        throw err;
      }
      if (idem) completeIdem(idem);
      audit?.();
    });

    const insertOutbox = db.prepare(
      `INSERT INTO webhook_outbox (tenant, webhook_id, delivery_id, run_id, sequence, event_type, state, attempts, available_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT (tenant, webhook_id, delivery_id) DO NOTHING`,
    );
    const appendTx = db.transaction(
      (
        runId: string,
        epoch: number,
        events: EncodedEvent[],
        status: RunProjection['status'],
        projectionJson: string,
        timers: TimerChanges | undefined,
        finished: FinishedCommands | undefined,
        outbox: { rows: readonly OutboxRow[]; now: number } | undefined,
      ): void => {
        const cur = p.leaseState.get(runId);
        if (!cur || cur.lease_epoch !== epoch) throw new LeaseLostError(runId);
        let next = cur.last_sequence + 1;
        for (const e of events) {
          if (e.sequence !== next) throw new Error(`sequence gap on ${runId}: expected ${next}, got ${e.sequence}`);
          next++;
        }
        for (const e of events) p.insertEvent.run(runId, e.sequence, e.type, e.nodeId ?? null, e.json);
        p.updateProjection.run({
          run_id: runId,
          projection_json: projectionJson,
          status,
          last_sequence: next - 1,
          terminal: TERMINAL_STATUSES.has(status) ? 1 : 0,
        });
        if (timers) {
          // Same order as MemoryStore: wipe, then targeted clears, then sets.
          if (timers.clearAll) p.deleteTimers.run(runId);
          for (const key of timers.clear ?? []) p.deleteTimer.run(runId, key);
          for (const t of timers.set ?? []) p.upsertTimer.run(runId, t.key, t.fireAt);
        }
        if (finished) this.cmds.finish(finished.outcomes, finished.now);
        if (outbox)
          for (const r of outbox.rows)
            insertOutbox.run(r.tenant, r.webhookId, `${r.runId}.${r.sequence}`, r.runId, r.sequence, r.eventType, outbox.now, outbox.now);
      },
    );

    const cancelTx = db.transaction((tenant: string, runId: string, cancelJson: string): RunRow | undefined => {
      p.requestCancel.run(cancelJson, runId, tenant);
      return p.getRun.get(runId, tenant);
    });

    const claimIdemTx = db.transaction((c: IdempotencyClaim): IdempotencyClaimResult => {
      let row = p.idemGet.get(c.tenant, c.route, c.key);
      if (row && row.expires_at <= c.now) {
        // An expired record is forgotten: the key starts over, whatever the request.
        p.idemDelete.run(c.tenant, c.route, c.key);
        row = undefined;
      }
      if (!row) {
        p.idemInsert.run(c.tenant, c.route, c.key, c.requestHash, c.owner, c.process ?? null, c.now, c.now + c.retentionMs);
        return { kind: 'claimed' };
      }
      if (row.request_hash !== c.requestHash) return { kind: 'mismatch' };
      if (row.state === 'done' && row.status !== null && row.body !== null) {
        return { kind: 'replay', response: { status: row.status, body: row.body } };
      }
      const abandoned = row.created_at + c.pendingTtlMs <= c.now || (row.process !== null && !p.processLive.get(row.process, c.now));
      if (abandoned) {
        // The first claimer died without completing or releasing (its pending TTL passed, or
        // its process stopped heartbeating); hand the key over.
        p.idemReclaim.run(c.owner, c.process ?? null, c.now, c.tenant, c.route, c.key);
        return { kind: 'claimed' };
      }
      return { kind: 'in-flight' };
    });

    return { ...p, putWorkflowTx, createRunTx, appendTx, cancelTx, claimIdemTx };
  }

  async putWorkflow(wf: StoredWorkflow): Promise<void> {
    this.s.putWorkflowTx.immediate(wf);
  }

  async getWorkflow(id: string): Promise<StoredWorkflow | undefined> {
    const row = this.s.getWorkflow.get(id);
    return row && toWorkflow(row);
  }

  async getWorkflowByHash(hash: string): Promise<StoredWorkflow | undefined> {
    const row = this.s.getWorkflowByHash.get(hash);
    return row && toWorkflow(row);
  }

  async listWorkflows(): Promise<StoredWorkflow[]> {
    return this.s.listWorkflows.all().map(toWorkflow);
  }

  async deleteWorkflow(id: string): Promise<boolean> {
    return this.s.deleteWorkflow.run(id).changes > 0;
  }

  async createRun(run: RunRecord, idem?: IdempotencyCompletion, rider?: CreateRunRider): Promise<void> {
    const tx = this.s.createRunTx;
    const row = runInsertValues(run);
    // The run.created audit entry rides in the same transaction (a nested savepoint of auditTx).
    const audit = isAuditRider(rider) ? this.rideAudit(rider, run) : undefined;
    await this.groupCommit.submit(() => tx.immediate(row, idem, audit));
    if (rider && audit) rider.taken = true;
  }

  private rideAudit(rider: AuditRider, run: RunRecord): () => void {
    const auditTx = this.ks.auditTx;
    const build = (state: AuditWriteState): AuditWrite => rider.build(state, run);
    return () => {
      try {
        rider.written = auditTx(rider.afterSeq, build);
      } catch {
        // The optimistic afterSeq missed entries (a staged write rolled back): read them all.
        rider.written = auditTx(rider.committedSeq, build);
      }
    };
  }

  async getRun(tenant: string, runId: string): Promise<RunRecord | undefined> {
    const row = this.s.getRun.get(runId, tenant);
    return row && toRunRecord(row);
  }

  async getRunInternal(runId: string): Promise<RunRecord | undefined> {
    const row = this.s.getRunInternal.get(runId);
    return row && toRunRecord(row);
  }

  async listRuns(tenant: string, q: RunListQuery): Promise<RunRecord[]> {
    const shape = `${q.status ? 's' : ''}${q.workflowId ? 'w' : ''}${q.before ? 'b' : ''}`;
    let stmt = this.listRunsStmts.get(shape);
    if (!stmt) {
      const where = ['tenant = @tenant'];
      if (q.status) where.push('status = @status');
      if (q.workflowId) where.push('workflow_id = @workflow_id');
      if (q.before) where.push('(created_at, run_id) < (@before_created_at, @before_run_id)');
      stmt = this.db.prepare<Record<string, string | number>, RunRow>(
        `SELECT ${RUN_COLUMNS} FROM runs WHERE ${where.join(' AND ')} ORDER BY created_at DESC, run_id DESC LIMIT @limit`,
      );
      this.listRunsStmts.set(shape, stmt);
    }
    const params: Record<string, string | number> = { tenant, limit: Math.max(0, q.limit) };
    if (q.status) params.status = q.status;
    if (q.workflowId) params.workflow_id = q.workflowId;
    if (q.before) {
      params.before_created_at = q.before.createdAt;
      params.before_run_id = q.before.runId;
    }
    return stmt.all(params).map(toRunRecord);
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
    const tx = this.s.appendTx;
    // Serialized now: the caller's objects may change before the group commits.
    const projectionJson = JSON.stringify(projection);
    const evs = events.slice();
    return this.groupCommit.submit(() => tx.immediate(runId, epoch, evs, projection.status, projectionJson, timers, finished, outbox));
  }

  async readEvents(runId: string, afterSequence: number, limit: number): Promise<EncodedEvent[]> {
    return this.s.readEvents.all(runId, afterSequence, Math.max(0, limit)).map(toEvent);
  }

  async requestCancel(tenant: string, runId: string, reason: string | undefined, by: string): Promise<RunRecord | undefined> {
    const cancel = reason === undefined ? { by } : { reason, by };
    const row = this.s.cancelTx.immediate(tenant, runId, JSON.stringify(cancel));
    return row && toRunRecord(row);
  }

  async claimRun(runId: string, owner: string, ttlMs: number, now: number, force = false): Promise<number | null> {
    const row = this.s.claimRun.get({ run_id: runId, owner, now, expires_at: now + ttlMs, force: force ? 1 : 0 });
    return row ? row.lease_epoch : null;
  }

  async renewLeases(owner: string, ttlMs: number, now: number): Promise<void> {
    this.s.renewLeases.run(now + ttlMs, owner);
    this.s.heartbeat.run(owner, now + ttlMs);
    this.process = owner;
  }

  async listRecoverableRuns(now: number, limit: number, includeLeased = false): Promise<string[]> {
    return this.s.recoverable.all({ now, limit: Math.max(0, limit), include_leased: includeLeased ? 1 : 0 }).map((r) => r.run_id);
  }

  async listDueTimers(now: number, limit: number): Promise<TimerRow[]> {
    return this.s.dueTimers.all(now, Math.max(0, limit)).map(toTimer);
  }

  async nextTimerAt(): Promise<number | null> {
    return this.s.nextTimer.get()?.fire_at ?? null;
  }

  async claimIdempotency(claim: IdempotencyClaim): Promise<IdempotencyClaimResult> {
    return this.s.claimIdemTx.immediate(this.process === undefined || claim.process !== undefined ? claim : { ...claim, process: this.process });
  }

  /**
   * Like `MemoryStore`, completion keeps the record's original expiry; `retentionMs` and
   * `now` are accepted for the port's signature.
   */
  async completeIdempotency(done: IdempotencyCompletion, _retentionMs: number, _now: number): Promise<void> {
    this.s.idemComplete.run(done.response.status, done.response.body, done.tenant, done.route, done.key, done.owner);
  }

  async releaseIdempotency(tenant: string, route: string, key: string, owner: string): Promise<void> {
    this.s.idemRelease.run(tenant, route, key, owner);
  }

  /** The invocation log (prepared on first use, after migrate). */
  protected get invocations(): SqliteInvocations {
    return (this.preparedInvocations ??= new SqliteInvocations(this.db));
  }

  /** Retention (prepared on first use, after migrate). */
  protected get retention(): SqliteRetention {
    return (this.preparedRetention ??= new SqliteRetention(this.db));
  }

  async purgeExpiredIdempotency(now: number): Promise<number> {
    return this.s.idemPurge.run(now).changes;
  }

  async createApiKey(key: ApiKeyRecord): Promise<void> {
    try {
      this.ks.insertKey.run(toApiKeyRow(key));
    } catch (err) {
      if (err instanceof Database.SqliteError && err.code.startsWith('SQLITE_CONSTRAINT')) throw new Error(`duplicate api key ${key.keyId}`, { cause: err });
      throw err;
    }
  }

  async getApiKey(keyId: string, tenant?: string): Promise<ApiKeyRecord | undefined> {
    const row = this.ks.getKey.get(keyId);
    return row && (tenant === undefined || row.tenant === tenant) ? toApiKey(row) : undefined;
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const row = this.ks.getKeyByHash.get(hash);
    return row && toApiKey(row);
  }

  async listApiKeys(tenant?: string): Promise<ApiKeyRecord[]> {
    return (tenant === undefined ? this.ks.listKeys.all() : this.ks.listKeysOfTenant.all(tenant)).map(toApiKey);
  }

  async revokeApiKey(keyId: string, at: number, tenant?: string): Promise<ApiKeyRecord | undefined> {
    const row = this.ks.revokeTx.immediate(keyId, at, tenant);
    return row && toApiKey(row);
  }

  async rotateApiKey(keyId: string, successor: ApiKeySuccessor, graceUntil: number, now: number, tenant?: string): Promise<RotateApiKeyResult> {
    try {
      return this.ks.rotateTx.immediate(keyId, successor, graceUntil, now, tenant);
    } catch (err) {
      if (err instanceof Database.SqliteError && err.code.startsWith('SQLITE_CONSTRAINT'))
        throw new Error(`duplicate api key ${successor.keyId}`, { cause: err });
      throw err;
    }
  }

  async touchApiKey(keyId: string, at: number): Promise<void> {
    this.ks.touchKey.run(at, keyId);
  }

  async appendAudit(afterSeq: number, build: (state: AuditWriteState) => AuditWrite): Promise<AuditWrite> {
    const tx = this.ks.auditTx;
    return this.groupCommit.submit(() => tx.immediate(afterSeq, build));
  }

  async readAuditEntries(fromSeq: number, toSeq: number, limit: number): Promise<AuditEntry[]> {
    return this.ks.readAudit.all(fromSeq, toSeq, Math.max(0, limit)).map(toAuditEntry);
  }

  async listAuditCheckpoints(fromSeq: number, toSeq: number, limit: number): Promise<AuditCheckpoint[]> {
    return this.ks.listCheckpoints.all(fromSeq, toSeq, Math.max(0, limit)).map(toCheckpoint);
  }

  async auditCheckpointBefore(seq: number): Promise<AuditCheckpoint | undefined> {
    const row = this.ks.checkpointBefore.get(seq);
    return row && toCheckpoint(row);
  }
}

function isConstraint(err: unknown, code: string): boolean {
  return err instanceof Database.SqliteError && err.code === code;
}

forwardMethods(SqliteStore, 'vault', SECRET_STORE_METHODS);
forwardMethods(SqliteStore, 'hooks', [...WEBHOOK_STORE_METHODS, ...WEBHOOK_OUTBOX_METHODS]);
forwardMethods(SqliteStore, 'invocations', INVOCATION_STORE_METHODS);
forwardMethods(SqliteStore, 'retention', RETENTION_STORE_METHODS);
