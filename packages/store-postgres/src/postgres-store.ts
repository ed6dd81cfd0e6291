/**
 * The shared {@link HostStore} on PostgreSQL through a `pg` pool. Several host processes may use
 * one database: leases fence appends (the epoch is checked in the same statement that
 * writes), and idempotency claims are decided by one atomic upsert.
 *
 * BIGINT columns arrive as strings (pg will not silently lose precision); the shared row
 * mappers of `@weft/store-kit` convert them.
 *
 * Round trips are the cost that matters, so every port method is one statement where the
 * semantics allow it: an append (fencing + continuity check + events + projection + timers)
 * is a single statement of data-modifying CTEs, which Postgres runs atomically without an
 * explicit BEGIN/COMMIT. Statements are prepared once per connection.
 *
 * @see execution-semantics.md §5
 */
import pg from 'pg';
import { TERMINAL_STATUSES } from '@weft/contract';
import {
  LeaseLostError,
  StoreUnavailableError,
  type CommandOutcome,
  type CommandRow,
  type EncodedEvent,
  type FinishedCommands,
  type OutboxRow,
  type IdempotencyClaim,
  type IdempotencyClaimResult,
  type IdempotencyCompletion,
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
  apiKeyValues,
  checkAuditWrite,
  checkpointValues,
  postgresDialect,
  runInsertValues,
  sharedStatements,
  toApiKey,
  toAuditEntry,
  toCheckpoint,
  toEvent,
  toRunRecord,
  toTimer,
  toWorkflow,
  type ApiKeyRecord,
  type ApiKeyRow,
  type ApiKeySuccessor,
  type AuditCheckpoint,
  type AuditEntry,
  type AuditRow,
  type AuditWrite,
  type AuditWriteState,
  type CheckpointRow,
  type EventRow,
  type HostStore,
  type IdemRow,
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
import { PgCommands } from './commands.js';
import { PgInvocations } from './invocations.js';
import { PgRetention } from './retention.js';
import { PgSecrets } from './secrets.js';
import { PgWebhooks } from './webhooks.js';
import { applyMigrations, loadMigrations } from './migrator.js';

/** Options of {@link PostgresStore}. */
export interface PostgresStoreOptions {
  /** libpq-style URL, e.g. `postgres://user@host:5432/weft`. */
  connectionString: string;
  /** Pool size. Default 10. */
  max?: number;
}

/**
 * Advisory lock (two-int key space, which never overlaps the migrator's single-bigint key)
 * that makes audit appends single-writer across every process on the database.
 */
export const AUDIT_LOCK_KEY: readonly [number, number] = [0x57454654, 2];

/** The fenced run update, the event insert and the timer changes every append makes (`$1`–`$15`). */
const APPEND_CORE = `
    WITH run AS (
      UPDATE runs SET
        projection_json = $3,
        status = $4,
        last_sequence = last_sequence + $5::int,
        lease_owner = CASE WHEN $6::boolean THEN NULL ELSE lease_owner END,
        lease_expires_at = CASE WHEN $6::boolean THEN NULL ELSE lease_expires_at END
      WHERE run_id = $1 AND lease_epoch = $2 AND ($7::int IS NULL OR last_sequence = $7::int)
      RETURNING run_id
    ), appended AS (
      INSERT INTO run_events (run_id, sequence, type, node_id, json)
      SELECT run.run_id, e.sequence, e.type, e.node_id, e.json
      FROM run, unnest($8::int[], $9::text[], $10::text[], $11::text[]) AS e(sequence, type, node_id, json)
    ), cleared AS (
      DELETE FROM timers t USING run
      WHERE t.run_id = run.run_id AND ($12::boolean OR t.key = ANY($13::text[])) AND t.key <> ALL($14::text[])
    ), timers_set AS (
      INSERT INTO timers (run_id, key, fire_at)
      SELECT run.run_id, s.key, s.fire_at FROM run, unnest($14::text[], $15::bigint[]) AS s(key, fire_at)
      ${postgresDialect.upsert(['run_id', 'key'], ['fire_at'])}
`;

/** Parameters of a `runs` insert: one per column of {@link RUN_INSERT_COLUMNS}. */
const RUN_INSERT_N = RUN_INSERT_COLUMNS.split(',').length;
const RUN_INSERT_PARAMS = Array.from({ length: RUN_INSERT_N }, (_, i) => `$${i + 1}`).join(', ');

const SQL = {
  ...sharedStatements(postgresDialect),
  putWorkflow: `
    WITH stored AS (
      INSERT INTO workflows (hash, id, definition_json, source, created_at) VALUES ($1, $2, $3, $4, $5)
      ON CONFLICT (hash) DO NOTHING
    )
    INSERT INTO workflow_ids (id, hash) VALUES ($2, $1) ${postgresDialect.upsert(['id'], ['hash'])}`,
  insertRun: `
    INSERT INTO runs (${RUN_INSERT_COLUMNS})
    VALUES (${RUN_INSERT_PARAMS})`,
  // The completion is conditional on the insert so a duplicate run (which aborts the whole
  // statement) can never leave a completed idempotency record behind.
  insertRunCompletingIdem: `
    WITH inserted AS (
      INSERT INTO runs (${RUN_INSERT_COLUMNS})
      VALUES (${RUN_INSERT_PARAMS})
      RETURNING run_id
    )
    UPDATE idempotency SET state = 'done', status = $${RUN_INSERT_N + 1}, body = $${RUN_INSERT_N + 2}
    WHERE tenant = $${RUN_INSERT_N + 3} AND route = $${RUN_INSERT_N + 4} AND key = $${RUN_INSERT_N + 5} AND owner = $${RUN_INSERT_N + 6} AND EXISTS (SELECT 1 FROM inserted)`,
  /*
   * One atomic statement. The UPDATE is the fence: it matches only while the epoch is ours
   * and the log ends right before this batch; every other CTE reads `run`, so when the fence
   * fails nothing at all is written. A concurrent append on the same row waits for the row
   * lock and then re-checks the fence against the committed row (READ COMMITTED re-check).
   * Timer deletes skip keys the batch also sets: one statement cannot delete and upsert the
   * same row, and the end state (the new fire time) is the same.
   */
  // The append, one statement: the common case (no command outcomes, no outbox rows) runs the
  // lean form; a step that applied commands or announces to durable webhooks the full one.
  append: `${APPEND_CORE}    )
    SELECT count(*)::int AS n FROM run`,
  appendFull: `${APPEND_CORE}    ), finished AS (
      UPDATE run_commands c SET state = o.state, result = o.result, done_at = $19
      FROM run, unnest($16::text[], $17::text[], $18::text[]) AS o(id, state, result)
      WHERE c.id = o.id AND c.state = 'pending'
    ), outboxed AS (
      INSERT INTO webhook_outbox (tenant, webhook_id, delivery_id, run_id, sequence, event_type, state, attempts, available_at, created_at)
      SELECT b.tenant, b.webhook_id, run.run_id || '.' || b.sequence, run.run_id, b.sequence, b.event_type, 'pending', 0, $24, $24
      FROM run, unnest($20::text[], $21::text[], $22::int[], $23::text[]) AS b(tenant, webhook_id, sequence, event_type)
      ON CONFLICT (tenant, webhook_id, delivery_id) DO NOTHING
    )
    SELECT count(*)::int AS n FROM run`,
  // Update-if-allowed and read back in one round trip; the second branch sees the row as of
  // statement start, which is the current row exactly when the UPDATE changed nothing.
  requestCancel: `
    WITH updated AS (
      UPDATE runs SET cancel_json = $3
      WHERE run_id = $1 AND tenant = $2 AND cancel_json IS NULL AND status NOT IN ${TERMINAL_SQL}
      RETURNING ${RUN_COLUMNS}
    )
    SELECT ${RUN_COLUMNS} FROM updated
    UNION ALL
    SELECT ${RUN_COLUMNS} FROM runs WHERE run_id = $1 AND tenant = $2 AND NOT EXISTS (SELECT 1 FROM updated)`,
  // SKIP LOCKED: a row locked by its owner's append (or another claimer) is busy, not free;
  // the claim gives up at once instead of queueing behind the lock.
  claimRun: `
    UPDATE runs SET lease_owner = $2, lease_epoch = lease_epoch + 1, lease_expires_at = $4
    WHERE run_id = (
      SELECT run_id FROM runs
      WHERE run_id = $1 AND status NOT IN ${TERMINAL_SQL}
        AND ($5::boolean OR lease_owner = $2 OR lease_owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at <= $3)
      FOR UPDATE SKIP LOCKED
    )
    RETURNING lease_epoch`,
  // The heartbeat of the process rides along: one statement per renewal.
  renewLeases: `
    WITH beat AS (
      INSERT INTO host_processes (process, expires_at) VALUES ($1, $2)
      ON CONFLICT (process) DO UPDATE SET expires_at = EXCLUDED.expires_at
    )
    UPDATE runs SET lease_expires_at = $2 WHERE lease_owner = $1 AND status NOT IN ${TERMINAL_SQL}`,
  releaseLeases: `
    WITH gone AS (DELETE FROM host_processes WHERE process = $1)
    UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = $1`,
  recoverable: `
    SELECT run_id FROM runs
    WHERE status NOT IN ${TERMINAL_SQL}
      AND (status NOT IN ${WAITING_SQL} OR cancel_json IS NOT NULL)
      AND ($3::boolean OR lease_owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at <= $1)
    ORDER BY created_at, run_id LIMIT $2`,
  /*
   * The claim decision in one atomic upsert: a new key inserts; an existing row is taken over
   * only when it has expired (start over, whatever the request) or is a pending claim of the
   * same request older than the pending TTL (its owner died). ON CONFLICT locks the existing
   * row and evaluates the WHERE on its latest committed version, so two concurrent claimers
   * can never both get a row back.
   */
  idemClaim: `
    INSERT INTO idempotency (tenant, route, key, request_hash, state, owner, created_at, expires_at, process)
    VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $9)
    ON CONFLICT (tenant, route, key) DO UPDATE SET
      request_hash = EXCLUDED.request_hash,
      state = 'pending',
      owner = EXCLUDED.owner,
      process = EXCLUDED.process,
      created_at = EXCLUDED.created_at,
      expires_at = CASE WHEN idempotency.expires_at <= EXCLUDED.created_at THEN EXCLUDED.expires_at ELSE idempotency.expires_at END,
      status = NULL,
      body = NULL
    WHERE idempotency.expires_at <= EXCLUDED.created_at
       OR (idempotency.state = 'pending' AND idempotency.request_hash = EXCLUDED.request_hash
           AND (idempotency.created_at + $8::bigint <= EXCLUDED.created_at
                -- the claiming process stopped heartbeating (killed): the claim is abandoned
                OR (idempotency.process IS NOT NULL AND NOT EXISTS (
                      SELECT 1 FROM host_processes h WHERE h.process = idempotency.process AND h.expires_at > EXCLUDED.created_at))))
    RETURNING 1 AS claimed`,
  idemComplete: "UPDATE idempotency SET state = 'done', status = $5, body = $6 WHERE tenant = $1 AND route = $2 AND key = $3 AND owner = $4",
  insertKey: `INSERT INTO api_keys (${API_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
  getKey: `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE key_id = $1 AND ($2::text IS NULL OR tenant = $2)`,
  listKeys: `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE ($1::text IS NULL OR tenant = $1) ORDER BY created_at, key_id`,
  // An earlier revocation time is kept.
  revokeKey: `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE key_id = $1 AND ($3::text IS NULL OR tenant = $3) RETURNING ${API_KEY_COLUMNS}`,
  /*
   * One atomic statement: the UPDATE is the guard (live, not yet rotated; its WHERE is
   * re-checked on the locked row), and the successor copies tenant, principal, name and
   * scopes from the row it returned, so nothing is written when the guard fails.
   */
  rotateKey: `
    WITH old AS (
      UPDATE api_keys SET grace_until = $4
      WHERE key_id = $1 AND ($6::text IS NULL OR tenant = $6) AND revoked_at IS NULL AND grace_until IS NULL
        AND (expires_at IS NULL OR expires_at > $5)
      RETURNING ${API_KEY_COLUMNS}
    ), inserted AS (
      INSERT INTO api_keys (${API_KEY_COLUMNS})
      SELECT $2, tenant, principal, name, scopes_json, $3, $7, $8, NULL, key_id, NULL, NULL FROM old
      RETURNING ${API_KEY_COLUMNS}
    )
    SELECT 'old' AS which, ${API_KEY_COLUMNS} FROM old
    UNION ALL
    SELECT 'next' AS which, ${API_KEY_COLUMNS} FROM inserted`,
  touchKey: 'UPDATE api_keys SET last_used_at = $2 WHERE key_id = $1',
} as const;

type StatementName = keyof typeof SQL | `listRuns_${string}` | `cmd_${string}` | `secret_${string}` | `inv_${string}` | `webhook_${string}` | `ret_${string}`;

/** How often a claim retries when the row changes between its upsert and its read-back. */
const CLAIM_ATTEMPTS = 10;

/*
 * Prepared-statement names carry a per-connection tag. On a real server names are scoped to
 * the session anyway; on a multiplexing server that runs every client in one session
 * (PGlite's socket server) the tag keeps two pool connections from preparing the same name.
 * The counter is process-wide so a new pool never reuses a name left by an old one.
 */
let connectionCounter = 0;
const connectionTags = new WeakMap<pg.PoolClient, string>();
function tagOf(client: pg.PoolClient): string {
  let tag = connectionTags.get(client);
  if (tag === undefined) {
    tag = (++connectionCounter).toString(36);
    connectionTags.set(client, tag);
  }
  return tag;
}

/**
 * SQLSTATEs after which the statement may succeed on retry: connection exceptions (class 08),
 * operator intervention (57P01 terminated backend, 57P02 crash, 57P03 cannot connect now,
 * 57014 cancelled), too many connections, and serialization failures / deadlocks.
 */
const TRANSIENT_SQLSTATE = /^(08|57P0|57014$|53300$|40001$|40P01$)/;

/** True when the error means the connection itself is gone (not a statement-level error). */
function connectionLost(err: unknown): boolean {
  if (!(err instanceof pg.DatabaseError)) return true;
  return err.severity === 'FATAL' || err.severity === 'PANIC' || /^(08|57P0)/.test(err.code ?? '');
}

/** Wraps driver errors that a retry may cure in {@link StoreUnavailableError}; others pass through. */
function unavailableOr(err: unknown): unknown {
  if (err instanceof StoreUnavailableError || err instanceof LeaseLostError) return err;
  if (err instanceof pg.DatabaseError) return TRANSIENT_SQLSTATE.test(err.code ?? '') || err.severity === 'FATAL' ? new StoreUnavailableError(err) : err;
  // Not a server-reported error: socket errors (ECONNREFUSED, ECONNRESET), "Connection
  // terminated unexpectedly", connect timeouts, a client made unusable by a dropped connection.
  if (err instanceof Error && !(err instanceof TypeError) && !(err instanceof RangeError)) return new StoreUnavailableError(err);
  return err;
}

/** The ports whose methods PostgresStore forwards to its parts (installed by `forwardMethods` below). */
export interface PostgresStore extends SecretStore, WebhookStore, WebhookOutboxStore, InvocationStore, RetentionStore {}

/**
 * {@link HostStore} on PostgreSQL. `shared` is true: leases must expire before another process
 * may take a run.
 *
 * @see execution-semantics.md §5
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the forwarded methods are installed on the prototype right after the class.
export class PostgresStore implements HostStore {
  readonly kind = 'postgres' as const;
  readonly shared = true;
  private readonly pool: pg.Pool;
  private closed = false;
  /** The host process heartbeating through this store (tags idempotency claims). */
  private process: string | undefined;
  private readonly cmds = new PgCommands((name, text, values) => this.q(name, text, values));
  protected readonly vault = new PgSecrets((name, text, values) => this.q(name, text, values));
  protected readonly invocations = new PgInvocations((name, text, values) => this.q(name, text, values));
  protected readonly hooks = new PgWebhooks((name, text, values) => this.q(name, text, values));
  protected readonly retention = new PgRetention((name, text, values) => this.q(name, text, values));

  constructor(opts: PostgresStoreOptions) {
    this.pool = new pg.Pool({ connectionString: opts.connectionString, max: opts.max ?? 10 });
    // An idle pooled connection that dies (server restart, terminated backend) is reported as
    // a pool 'error' event, which would crash the process if nobody listened. The pool has
    // already dropped that connection and the next query opens a new one.
    this.pool.on('error', () => undefined);
    // A *checked-out* client has no pool listener: when its backend is terminated, the socket
    // end arrives as a client 'error' event after (or between) queries, and an 'error' event
    // without a listener kills the process. The failed query already rejected with the cause,
    // and the client is no longer queryable, so the pool discards it on release.
    this.pool.on('connect', (client) => {
      client.on('error', () => undefined);
    });
  }

  async migrate(): Promise<void> {
    await applyMigrations(this.pool, loadMigrations());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  /** Runs a named prepared statement on a pooled connection. */
  private async q<R extends pg.QueryResultRow>(name: StatementName, text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    const client = await this.connect();
    let broken: Error | undefined;
    try {
      return await client.query<R>({ name: `weft_${name}_${tagOf(client)}`, text, values });
    } catch (err) {
      // A server-reported error (constraint, syntax…) leaves the connection usable; anything
      // else (socket, protocol, a FATAL such as a terminated backend) means it must not go
      // back into the pool.
      if (connectionLost(err)) broken = err instanceof Error ? err : new Error(String(err));
      throw unavailableOr(err);
    } finally {
      client.release(broken);
    }
  }

  /** A pooled client; failing to get one (database down, refused) is {@link StoreUnavailableError}. */
  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw unavailableOr(err);
    }
  }

  async enqueueCommand(cmd: Omit<CommandRow, 'state' | 'result'>): Promise<boolean> {
    return this.cmds.enqueue(cmd);
  }

  async pendingCommands(runId: string): Promise<CommandRow[]> {
    return this.cmds.pendingOf(runId);
  }

  async finishCommands(outcomes: readonly CommandOutcome[], now: number): Promise<void> {
    await this.cmds.finish(outcomes, now);
  }

  async getCommand(id: string): Promise<CommandRow | undefined> {
    return this.cmds.byId(id);
  }

  async putWorkflow(wf: StoredWorkflow): Promise<void> {
    await this.q('putWorkflow', SQL.putWorkflow, [wf.hash, wf.id, JSON.stringify(wf.definition), wf.source, wf.createdAt]);
  }

  async getWorkflow(id: string): Promise<StoredWorkflow | undefined> {
    const { rows } = await this.q<WorkflowRow>('getWorkflow', SQL.getWorkflow, [id]);
    return rows[0] && toWorkflow(rows[0]);
  }

  async getWorkflowByHash(hash: string): Promise<StoredWorkflow | undefined> {
    const { rows } = await this.q<WorkflowRow>('getWorkflowByHash', SQL.getWorkflowByHash, [hash]);
    return rows[0] && toWorkflow(rows[0]);
  }

  async listWorkflows(): Promise<StoredWorkflow[]> {
    const { rows } = await this.q<WorkflowRow>('listWorkflows', SQL.listWorkflows, []);
    return rows.map(toWorkflow);
  }

  async deleteWorkflow(id: string): Promise<boolean> {
    const { rowCount } = await this.q('deleteWorkflow', SQL.deleteWorkflow, [id]);
    return (rowCount ?? 0) > 0;
  }

  async createRun(run: RunRecord, idem?: IdempotencyCompletion): Promise<void> {
    const values: unknown[] = runInsertValues(run);
    try {
      if (idem) {
        values.push(idem.response.status, idem.response.body, idem.tenant, idem.route, idem.key, idem.owner);
        await this.q('insertRunCompletingIdem', SQL.insertRunCompletingIdem, values);
      } else {
        await this.q('insertRun', SQL.insertRun, values);
      }
    } catch (err) {
      if (err instanceof pg.DatabaseError && err.code === '23505' && err.constraint === 'runs_pkey') {
        throw new Error(`duplicate run ${run.runId}`, { cause: err });
      }
      throw err;
    }
  }

  async getRun(tenant: string, runId: string): Promise<RunRecord | undefined> {
    const { rows } = await this.q<RunRow>('getRun', SQL.getRun, [runId, tenant]);
    return rows[0] && toRunRecord(rows[0]);
  }

  async getRunInternal(runId: string): Promise<RunRecord | undefined> {
    const { rows } = await this.q<RunRow>('getRunInternal', SQL.getRunInternal, [runId]);
    return rows[0] && toRunRecord(rows[0]);
  }

  async listRuns(tenant: string, q: RunListQuery): Promise<RunRecord[]> {
    const values: unknown[] = [tenant];
    const where = ['tenant = $1'];
    if (q.status) {
      values.push(q.status);
      where.push(`status = $${values.length}`);
    }
    if (q.workflowId) {
      values.push(q.workflowId);
      where.push(`workflow_id = $${values.length}`);
    }
    if (q.before) {
      values.push(q.before.createdAt, q.before.runId);
      where.push(`(created_at, run_id) < ($${values.length - 1}, $${values.length})`);
    }
    values.push(Math.max(0, q.limit));
    const text = `SELECT ${RUN_COLUMNS} FROM runs WHERE ${where.join(' AND ')} ORDER BY created_at DESC, run_id DESC LIMIT $${values.length}`;
    const shape = `${q.status ? 's' : ''}${q.workflowId ? 'w' : ''}${q.before ? 'b' : ''}`;
    const { rows } = await this.q<RunRow>(`listRuns_${shape}`, text, values);
    return rows.map(toRunRecord);
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
    const outcomes = finished?.outcomes ?? [];
    const ob = outbox?.rows ?? [];
    const first = events[0];
    const contiguous = events.every((e, i) => first !== undefined && e.sequence === first.sequence + i);
    if (!contiguous) return this.explainRejectedAppend(runId, epoch, events);

    const setTimers = new Map<string, number>();
    for (const t of timers?.set ?? []) setTimers.set(t.key, t.fireAt); // last write wins, as in MemoryStore
    const lean = outcomes.length === 0 && ob.length === 0;
    const values: unknown[] = [
      runId,
      epoch,
      JSON.stringify(projection),
      projection.status,
      events.length,
      TERMINAL_STATUSES.has(projection.status),
      first === undefined ? null : first.sequence - 1,
      events.map((e) => e.sequence),
      events.map((e) => e.type),
      events.map((e) => e.nodeId ?? null),
      events.map((e) => e.json),
      timers?.clearAll === true,
      timers?.clear ?? [],
      [...setTimers.keys()],
      [...setTimers.values()],
    ];
    if (!lean) {
      values.push(
        outcomes.map((o) => o.id),
        outcomes.map((o) => o.state),
        outcomes.map((o) => o.result),
        finished?.now ?? 0,
        ob.map((r) => r.tenant),
        ob.map((r) => r.webhookId),
        ob.map((r) => r.sequence),
        ob.map((r) => r.eventType),
        outbox?.now ?? 0,
      );
    }
    const { rows } = lean ? await this.q<{ n: number }>('append', SQL.append, values) : await this.q<{ n: number }>('appendFull', SQL.appendFull, values);
    if (rows[0]?.n !== 1) return this.explainRejectedAppend(runId, epoch, events);
  }

  /** The append was refused; report why, with the lease taking precedence like MemoryStore. */
  private async explainRejectedAppend(runId: string, epoch: number, events: EncodedEvent[]): Promise<never> {
    const { rows } = await this.q<{ lease_epoch: number; last_sequence: number }>('leaseState', SQL.leaseState, [runId]);
    const cur = rows[0];
    if (!cur || cur.lease_epoch !== epoch) throw new LeaseLostError(runId);
    let next = cur.last_sequence + 1;
    for (const e of events) {
      if (e.sequence !== next) throw new Error(`sequence gap on ${runId}: expected ${next}, got ${e.sequence}`);
      next++;
    }
    // The fence failed but the batch now fits: another append with our epoch won a race.
    throw new Error(`concurrent append on ${runId} with epoch ${epoch}`);
  }

  async readEvents(runId: string, afterSequence: number, limit: number): Promise<EncodedEvent[]> {
    const { rows } = await this.q<EventRow>('readEvents', SQL.readEvents, [runId, afterSequence, Math.max(0, limit)]);
    return rows.map(toEvent);
  }

  async requestCancel(tenant: string, runId: string, reason: string | undefined, by: string): Promise<RunRecord | undefined> {
    const cancel = reason === undefined ? { by } : { reason, by };
    const { rows } = await this.q<RunRow>('requestCancel', SQL.requestCancel, [runId, tenant, JSON.stringify(cancel)]);
    return rows[0] && toRunRecord(rows[0]);
  }

  async claimRun(runId: string, owner: string, ttlMs: number, now: number, force = false): Promise<number | null> {
    const { rows } = await this.q<{ lease_epoch: number }>('claimRun', SQL.claimRun, [runId, owner, now, now + ttlMs, force]);
    return rows[0] ? rows[0].lease_epoch : null;
  }

  async renewLeases(owner: string, ttlMs: number, now: number): Promise<void> {
    await this.q('renewLeases', SQL.renewLeases, [owner, now + ttlMs]);
    this.process = owner;
  }

  async releaseLeases(owner: string): Promise<void> {
    await this.q('releaseLeases', SQL.releaseLeases, [owner]);
  }

  async listRecoverableRuns(now: number, limit: number, includeLeased = false): Promise<string[]> {
    const { rows } = await this.q<{ run_id: string }>('recoverable', SQL.recoverable, [now, Math.max(0, limit), includeLeased]);
    return rows.map((r) => r.run_id);
  }

  async listDueTimers(now: number, limit: number): Promise<TimerRow[]> {
    const { rows } = await this.q<TimerDbRow>('dueTimers', SQL.dueTimers, [now, Math.max(0, limit)]);
    return rows.map(toTimer);
  }

  async nextTimerAt(): Promise<number | null> {
    const { rows } = await this.q<{ fire_at: string | null }>('nextTimer', SQL.nextTimer, []);
    const at = rows[0]?.fire_at;
    return at === null || at === undefined ? null : Number(at);
  }

  async claimIdempotency(c: IdempotencyClaim): Promise<IdempotencyClaimResult> {
    const pk = [c.tenant, c.route, c.key];
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const process = c.process ?? this.process ?? null;
      const claim = await this.q('idemClaim', SQL.idemClaim, [...pk, c.requestHash, c.owner, c.now, c.now + c.retentionMs, c.pendingTtlMs, process]);
      if ((claim.rowCount ?? 0) > 0) return { kind: 'claimed' };
      // Someone else holds the key; read what they hold. The row may change in between
      // (released, purged, reclaimed); if it is gone or takeable again, decide afresh.
      const { rows } = await this.q<IdemRow>('idemGet', SQL.idemGet, pk);
      const row = rows[0];
      if (!row) continue;
      const createdAt = Number(row.created_at);
      if (Number(row.expires_at) <= c.now) continue;
      if (row.request_hash !== c.requestHash) return { kind: 'mismatch' };
      if (row.state === 'done' && row.status !== null && row.body !== null) {
        return { kind: 'replay', response: { status: row.status, body: row.body } };
      }
      if (row.state === 'pending' && createdAt + c.pendingTtlMs <= c.now) continue;
      return { kind: 'in-flight' };
    }
    // The key kept changing under us; answering in-flight is safe (the client retries) where
    // a guess at `claimed` could run the request twice.
    return { kind: 'in-flight' };
  }

  /**
   * Like `MemoryStore`, completion keeps the record's original expiry; `retentionMs` and
   * `now` are accepted for the port's signature.
   */
  async completeIdempotency(done: IdempotencyCompletion, _retentionMs: number, _now: number): Promise<void> {
    await this.q('idemComplete', SQL.idemComplete, [done.tenant, done.route, done.key, done.owner, done.response.status, done.response.body]);
  }

  async releaseIdempotency(tenant: string, route: string, key: string, owner: string): Promise<void> {
    await this.q('idemRelease', SQL.idemRelease, [tenant, route, key, owner]);
  }

  async purgeExpiredIdempotency(now: number): Promise<number> {
    const { rowCount } = await this.q('idemPurge', SQL.idemPurge, [now]);
    return rowCount ?? 0;
  }

  async createApiKey(k: ApiKeyRecord): Promise<void> {
    try {
      await this.q('insertKey', SQL.insertKey, apiKeyValues(k));
    } catch (err) {
      if (err instanceof pg.DatabaseError && err.code === '23505') throw new Error(`duplicate api key ${k.keyId}`, { cause: err });
      throw err;
    }
  }

  async getApiKey(keyId: string, tenant?: string): Promise<ApiKeyRecord | undefined> {
    const { rows } = await this.q<ApiKeyRow>('getKey', SQL.getKey, [keyId, tenant ?? null]);
    return rows[0] && toApiKey(rows[0]);
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const { rows } = await this.q<ApiKeyRow>('getKeyByHash', SQL.getKeyByHash, [hash]);
    return rows[0] && toApiKey(rows[0]);
  }

  async listApiKeys(tenant?: string): Promise<ApiKeyRecord[]> {
    const { rows } = await this.q<ApiKeyRow>('listKeys', SQL.listKeys, [tenant ?? null]);
    return rows.map(toApiKey);
  }

  async revokeApiKey(keyId: string, at: number, tenant?: string): Promise<ApiKeyRecord | undefined> {
    const { rows } = await this.q<ApiKeyRow>('revokeKey', SQL.revokeKey, [keyId, at, tenant ?? null]);
    return rows[0] && toApiKey(rows[0]);
  }

  async rotateApiKey(keyId: string, successor: ApiKeySuccessor, graceUntil: number, now: number, tenant?: string): Promise<RotateApiKeyResult> {
    let rows: (ApiKeyRow & { which: 'old' | 'next' })[];
    try {
      ({ rows } = await this.q<ApiKeyRow & { which: 'old' | 'next' }>('rotateKey', SQL.rotateKey, [
        keyId,
        successor.keyId,
        successor.hash,
        graceUntil,
        now,
        tenant ?? null,
        successor.createdAt,
        successor.expiresAt,
      ]));
    } catch (err) {
      if (err instanceof pg.DatabaseError && err.code === '23505') throw new Error(`duplicate api key ${successor.keyId}`, { cause: err });
      throw err;
    }
    const old = rows.find((r) => r.which === 'old');
    const next = rows.find((r) => r.which === 'next');
    if (old && next) return { kind: 'rotated', old: toApiKey(old), next: toApiKey(next) };
    const current = await this.getApiKey(keyId, tenant);
    return current ? { kind: 'conflict', old: current } : { kind: 'not_found' };
  }

  async touchApiKey(keyId: string, at: number): Promise<void> {
    await this.q('touchKey', SQL.touchKey, [keyId, at]);
  }

  /**
   * One transaction under a transaction-scoped advisory lock, so appends from every process
   * are serialized: read the tip, newer entries and the last checkpoint, build, insert.
   */
  async appendAudit(afterSeq: number, build: (state: AuditWriteState) => AuditWrite): Promise<AuditWrite> {
    const client = await this.connect();
    let broken: Error | undefined;
    try {
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock($1, $2)', [...AUDIT_LOCK_KEY]);
        const tip = (await client.query<{ seq: string; hash: string }>(SQL.auditTip)).rows[0];
        const newer = (await client.query<AuditRow>(SQL.auditAfter, [afterSeq])).rows.map(toAuditEntry);
        const last = (await client.query<CheckpointRow>(SQL.lastCheckpoint)).rows[0];
        const lastCheckpoint = last && toCheckpoint(last);
        const tipSeq = tip ? Number(tip.seq) : -1;
        const write = build({ tip: tip && { seq: tipSeq, hash: tip.hash }, newer, lastCheckpoint });
        checkAuditWrite(tipSeq, lastCheckpoint?.checkpoint ?? 0, write);
        if (write.entries.length > 0) {
          const es = write.entries;
          await client.query(
            `INSERT INTO audit_log (${AUDIT_COLUMNS})
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])`,
            [
              es.map((e) => e.seq),
              es.map((e) => e.ts),
              es.map((e) => e.tenant),
              es.map((e) => e.principal),
              es.map((e) => e.action),
              es.map((e) => e.target),
              es.map((e) => JSON.stringify(e.details)),
              es.map((e) => e.prevHash),
              es.map((e) => e.hash),
            ],
          );
        }
        const cp = write.checkpoint;
        if (cp) {
          await client.query(`INSERT INTO audit_checkpoints (${CHECKPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)`, checkpointValues(cp));
        }
        await client.query('COMMIT');
        return write;
      } catch (err) {
        // A connection that cannot even roll back (socket, protocol) must not go back to the pool.
        await client.query('ROLLBACK').catch((e: unknown) => {
          broken = e instanceof Error ? e : new Error(String(e));
        });
        // Only driver errors are classified; a failing `build` is the caller's own error.
        throw broken || err instanceof pg.DatabaseError ? unavailableOr(err) : err;
      }
    } finally {
      client.release(broken);
    }
  }

  async readAuditEntries(fromSeq: number, toSeq: number, limit: number): Promise<AuditEntry[]> {
    const { rows } = await this.q<AuditRow>('readAudit', SQL.readAudit, [fromSeq, toSeq, Math.max(0, limit)]);
    return rows.map(toAuditEntry);
  }

  async listAuditCheckpoints(fromSeq: number, toSeq: number, limit: number): Promise<AuditCheckpoint[]> {
    const { rows } = await this.q<CheckpointRow>('listCheckpoints', SQL.listCheckpoints, [fromSeq, toSeq, Math.max(0, limit)]);
    return rows.map(toCheckpoint);
  }

  async auditCheckpointBefore(seq: number): Promise<AuditCheckpoint | undefined> {
    const { rows } = await this.q<CheckpointRow>('checkpointBefore', SQL.checkpointBefore, [seq]);
    return rows[0] && toCheckpoint(rows[0]);
  }
}

forwardMethods(PostgresStore, 'vault', SECRET_STORE_METHODS);
forwardMethods(PostgresStore, 'hooks', [...WEBHOOK_STORE_METHODS, ...WEBHOOK_OUTBOX_METHODS]);
forwardMethods(PostgresStore, 'invocations', INVOCATION_STORE_METHODS);
forwardMethods(PostgresStore, 'retention', RETENTION_STORE_METHODS);
