/**
 * The vocabulary of the run state machine: the commands it applies, what one step takes and
 * what it gives back.
 */
import type { RunStatus, Scope } from '@weft/contract';
import type { NodeResult } from '../nodes.js';
import type { EncodedEvent, RunRecord, TimerRow } from '../ports.js';

/** A command applied by the run's driver, serialized with its steps (one writer per run). */
export type RunCommand =
  | {
      kind: 'resolve';
      nodeId?: string;
      interruptId?: string;
      resumeValue: unknown;
      principal: string;
      via: 'bearer' | 'token';
      /** The caller holds {@link DELEGATE_SCOPE}: an approval `resumeValue.voter` is honoured. */
      mayDelegate?: boolean;
    }
  | { kind: 'pause'; reason?: string; drainPolicy: 'immediate' | 'drain-current-node'; principal: string }
  | { kind: 'resume'; reason?: string; principal: string };

/** Scope that lets a principal vote on an approval on behalf of a named voter. */
export const DELEGATE_SCOPE: Scope = 'interrupts:delegate';

/** What a command answers. */
export interface CommandResult {
  runId: string;
  status: RunStatus;
  /** The vote identity (`voter:<name>`) when an approval vote was cast on behalf of a voter. */
  voter?: string;
  nodeId?: string;
  interruptId?: string;
  interrupt?: { kind: string; outcome?: string; votes?: { granted: number; rejected: number; required: number } };
  pausedAt?: string;
  resumedAt?: string;
}

/** The answer to one command row: a result, or the error the caller sees. */
export interface CommandReply {
  id: string;
  result?: CommandResult;
  error?: unknown;
}

/** How a node body ended: a result, or what it threw (a `SuspendSignal` suspends it). */
export type NodeOutcome = { result: NodeResult } | { error: unknown };

/** What happened since the last step. Every field is optional; `now` is the step's time. */
export interface StepInput {
  now: number;
  /** A cancel request the driver learned of (the run row carries it). */
  cancel?: NonNullable<RunRecord['cancelRequested']>;
  /** Command rows to apply, in order. */
  commands?: readonly { id: string; cmd: RunCommand }[];
  /** Child runs started by sub-workflow node bodies since the last step. */
  dispatched?: readonly { nodeId: string; runId: string; workflowId: string }[];
  /** Node bodies that ended. */
  settled?: readonly { nodeId: string; outcome: NodeOutcome }[];
  /** Timer keys that fired. */
  timersFired?: readonly string[];
  /** Sub-workflow nodes whose child run ended. */
  childrenEnded?: readonly string[];
  /** Events running node bodies emitted (`ctx.emit`), in order; stepped before `settled`. */
  emitted?: readonly { nodeId: string; type: string; payload: Record<string, unknown> }[];
}

/** Something the driver must do for the machine; none of it changes the log by itself. */
export type Effect =
  /** Run the node's body (its `node.started` is in this step's events, or it is re-executed). */
  | { type: 'execute'; nodeId: string }
  /** Abort the bodies in flight (these nodes', or all); their outcomes are void. */
  | { type: 'abort'; nodeIds?: string[] }
  /** Tell the machine (`childrenEnded`) once this child run has ended; it may have already. */
  | { type: 'watch-child'; nodeId: string; childRunId: string }
  /** Cancel these child runs (the parent was cancelled). */
  | { type: 'cancel-children'; runIds: string[]; by: string };

/** Changes to the run's durable timers, committed with the step's events. */
export interface TimerPlan {
  set: TimerRow[];
  clear: string[];
  clearAll: boolean;
}

/** What one step decided. Its events are already folded into the state's projection. */
export interface StepOutput {
  events: EncodedEvent[];
  timers: TimerPlan;
  replies: CommandReply[];
  effects: Effect[];
  /** The run reached its terminal event. */
  terminal: boolean;
}
