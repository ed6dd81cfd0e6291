/**
 * Commands as rows. Cancel-free run commands (resolve, vote, pause, resume, external events)
 * are written as `run_commands` rows; whichever process holds the run's lease applies them in
 * its next step and records the outcome on the row; the process that accepted the request
 * waits for that outcome (woken locally, by a notification, or by re-reading the row).
 *
 * @see ../../../../docs/decisions/0008-commands-as-rows-and-notifier.md
 */
import { WeftError } from '@weft/contract';
import {
  COMMAND_DONE_CHANNEL,
  COMMANDS_CHANNEL,
  type CommandOutcome,
  type CommandRow,
  LeaseLostError,
  type Notifier,
  type Store,
  StoreUnavailableError,
} from '../ports.js';
import type { CommandReply, CommandResult, RunCommand } from './types.js';

/** Encodes an error for a command row: the closed envelope and headers only, never internals. */
export function encodeCommandError(e: unknown): string {
  if (e instanceof WeftError) return JSON.stringify({ code: e.code, message: e.message, details: e.details, headers: e.headers });
  if (e instanceof StoreUnavailableError || e instanceof LeaseLostError) {
    return JSON.stringify({
      code: 'service_unavailable',
      message: 'The run is temporarily unavailable; retry shortly.',
      details: { retryAfter: 1 },
      headers: { 'retry-after': '1' },
    });
  }
  return JSON.stringify({ code: 'internal_error', message: 'The command failed.' });
}

/** The row outcome of a reply. */
export function outcomeOf(a: CommandReply): CommandOutcome {
  return a.error === undefined
    ? { id: a.id, state: 'done', result: JSON.stringify(a.result) }
    : { id: a.id, state: 'failed', result: encodeCommandError(a.error) };
}

/** The answer recorded on a finished command row: its result, or the error it threw. */
export function decodeOutcome(row: CommandRow): CommandResult {
  if (row.state === 'done') return JSON.parse(row.result ?? '{}') as CommandResult;
  const e = JSON.parse(row.result ?? '{}') as {
    code?: WeftError['code'];
    message?: string;
    details?: Record<string, unknown>;
    headers?: Record<string, string>;
  };
  throw new WeftError(e.code ?? 'internal_error', e.message ?? 'The command failed.', e.details, e.headers);
}

const COMMAND_TIMEOUT = Symbol('command timeout');

/** What the bus needs from its engine. */
export interface CommandBusOptions {
  store: Pick<Store, 'enqueueCommand' | 'finishCommands' | 'getCommand' | 'shared'>;
  notifier: Notifier;
  now: () => number;
  newId: () => string;
  /** How long a command waits for the run's owner to apply it before 503. */
  timeoutMs: number;
  /** How often a waiting command retries taking the run and re-reads its row (shared stores). */
  retryMs: number;
  /** Flags the run as having pending rows and wakes its driver here. */
  wake: (runId: string) => void;
  warn: (obj: Record<string, unknown>, msg: string) => void;
}

/** Writes command rows, waits for their outcomes and records the outcomes of applied ones. */
export class CommandBus {
  private readonly waiters = new Map<string, { resolve: (r: CommandResult) => void; reject: (e: unknown) => void }>();
  constructor(private readonly o: CommandBusOptions) {}

  /**
   * Writes the command as a row, wakes the run's owner and waits for the outcome. With a fixed
   * `id` (derived from an Idempotency-Key) a row already written under it is not written again:
   * its recorded outcome answers, or its pending outcome is awaited — so a request retried
   * after the accepting process died never applies the command twice.
   */
  async submit(runId: string, tenant: string, cmd: RunCommand, fixedId?: string): Promise<CommandResult> {
    const id = fixedId ?? this.o.newId();
    const outcome = new Promise<CommandResult>((resolve, reject) => this.waiters.set(id, { resolve, reject }));
    try {
      const written = await this.o.store.enqueueCommand({
        id,
        runId,
        tenant,
        kind: cmd.kind,
        payload: JSON.stringify(cmd),
        principal: cmd.principal,
        createdAt: this.o.now(),
      });
      if (!written) {
        const row = await this.o.store.getCommand(id);
        if (row && row.state !== 'pending') {
          this.waiters.delete(id);
          return decodeOutcome(row);
        }
      }
    } catch (e) {
      this.waiters.delete(id);
      throw e;
    }
    this.o.wake(runId);
    if (this.o.store.shared) this.notifyRun(runId);
    return this.await(id, runId, outcome);
  }

  /** Tells the other processes that run `runId` has a new command (or a cancel request). */
  notifyRun(runId: string): void {
    this.o.notifier.notify(COMMANDS_CHANNEL, runId).catch((e: unknown) => this.o.warn({ err: String(e) }, 'command notification failed'));
  }

  /**
   * Waits for a command's outcome. On a shared store it also retries taking the run (its
   * owner may have died) and re-reads the row (a notification may have been missed). Past
   * the deadline the command is withdrawn if still pending, and the row's final state answers.
   */
  private async await(id: string, runId: string, outcome: Promise<CommandResult>): Promise<CommandResult> {
    let timer: NodeJS.Timeout | undefined;
    let retry: NodeJS.Timeout | undefined;
    try {
      return await new Promise<CommandResult>((resolve, reject) => {
        outcome.then(resolve, reject);
        timer = setTimeout(() => reject(COMMAND_TIMEOUT), this.o.timeoutMs);
        if (this.o.store.shared) {
          retry = setInterval(() => {
            this.o.wake(runId);
            this.settleFromRow(id);
          }, this.o.retryMs);
        }
      });
    } catch (e) {
      if (e !== COMMAND_TIMEOUT) throw e;
      this.waiters.delete(id);
      const unavailable = new WeftError(
        'service_unavailable',
        'No host process applied the command in time; retry shortly.',
        { retryAfter: 1 },
        { 'retry-after': '1' },
      );
      await this.o.store.finishCommands([{ id, state: 'failed', result: encodeCommandError(unavailable) }], this.o.now()).catch(() => undefined);
      const row = await this.o.store.getCommand(id).catch(() => undefined);
      if (!row || row.state === 'pending') throw unavailable;
      return decodeOutcome(row);
    } finally {
      if (timer) clearTimeout(timer);
      if (retry) clearInterval(retry);
    }
  }

  /** Settles a local waiter from its row once another process recorded the outcome. */
  private settleFromRow(id: string): void {
    if (!this.waiters.has(id)) return;
    this.o.store.getCommand(id).then(
      (row) => {
        const w = this.waiters.get(id);
        if (!row || row.state === 'pending' || !w) return;
        this.waiters.delete(id);
        try {
          w.resolve(decodeOutcome(row));
        } catch (e) {
          w.reject(e);
        }
      },
      (e: unknown) => this.o.warn({ err: String(e) }, 'reading a command outcome failed'),
    );
  }

  /**
   * Records command outcomes (unless `recorded`: the append that applied them did), answers
   * this process's waiters and tells the others.
   */
  async finish(applied: readonly CommandReply[], recorded = false): Promise<void> {
    if (applied.length === 0) return;
    try {
      if (!recorded) await this.o.store.finishCommands(applied.map(outcomeOf), this.o.now());
    } catch (e) {
      // The effects are committed; the rows stay pending and are re-recorded by a later step
      // (the driver keeps what it applied). Local callers still get their answer now.
      this.o.warn({ err: String(e) }, 'recording command outcomes failed');
    }
    let remote = false;
    for (const a of applied) {
      const w = this.waiters.get(a.id);
      if (!w) {
        remote = true;
        continue;
      }
      this.waiters.delete(a.id);
      if (a.error === undefined) w.resolve(a.result as CommandResult);
      else w.reject(a.error);
    }
    if (remote && this.o.store.shared) {
      for (const a of applied) {
        if (this.waiters.has(a.id)) continue;
        this.o.notifier.notify(COMMAND_DONE_CHANNEL, a.id).catch((e: unknown) => this.o.warn({ err: String(e) }, 'command notification failed'));
      }
    }
  }

  /** Another process recorded a command outcome (or `''`: re-check every waiting command). */
  onDone(id: string): void {
    if (id === '') for (const k of this.waiters.keys()) this.settleFromRow(k);
    else this.settleFromRow(id);
  }

  /** Fails every waiting command (the host is shutting down). */
  rejectAll(e: unknown): void {
    for (const w of this.waiters.values()) w.reject(e);
    this.waiters.clear();
  }
}
