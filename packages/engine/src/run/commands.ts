/**
 * Command rules: pause, resume and interrupt resolution (approvals with quorum and delegated
 * voters, clarifications, external events), validated against the folded state. With a batch,
 * a command appends its events; without one (the run has ended) it only answers — an error.
 */
import { WeftError } from '@weft/contract';
import type { InterruptView, RunProjection, RunRecord } from '../ports.js';
import { canonicalJson } from '../scheduler.js';
import type { Batch } from './batch.js';
import { resolveWith } from './interrupts.js';
import { hasRunningNodes } from './state.js';
import { DELEGATE_SCOPE, type CommandResult, type RunCommand } from './types.js';

/** Compiles (and caches) a JSON Schema validator; throws `WeftError` with `details.errors`. */
export type ValidatorFactory = (schema: Record<string, unknown>) => (v: unknown, what?: string) => unknown;

/** Named voters: printable, no spaces or quotes, 1..128 characters. */
const VOTER_PATTERN = /^[A-Za-z0-9._@+:-]{1,128}$/;

/**
 * Separates an approval's `resumeValue.voter` from the decision. Only a caller holding
 * {@link DELEGATE_SCOPE} may name a voter; the check runs before the interrupt's state is told.
 * @throws WeftError `forbidden` (no delegation scope) | `validation_error` (malformed voter)
 */
function splitVoter(cmd: Extract<RunCommand, { kind: 'resolve' }>): { resumeValue: unknown; voter?: string } {
  const rv = cmd.resumeValue;
  if (!rv || typeof rv !== 'object' || Array.isArray(rv) || !('voter' in rv)) return { resumeValue: rv };
  if (!cmd.mayDelegate) throw new WeftError('forbidden', 'Voting on behalf of a voter needs the interrupts:delegate scope.', { scopeRequired: DELEGATE_SCOPE });
  const { voter, ...rest } = rv as Record<string, unknown>;
  if (typeof voter !== 'string' || !VOTER_PATTERN.test(voter)) {
    throw new WeftError('validation_error', 'The voter is invalid.', {
      errors: [{ path: '/resumeValue/voter', message: 'must be 1..128 characters of A-Z a-z 0-9 . _ @ + : -' }],
    });
  }
  return { resumeValue: rest, voter };
}

/**
 * The spec's external-event resume shape is `{eventPayload: <event>}`; Weft also accepts the
 * event itself. Either way the recorded value (and the node's `event` output) is the event.
 */
function unwrapEventPayload(v: unknown): unknown {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return v;
  const keys = Object.keys(v);
  return keys.length === 1 && keys[0] === 'eventPayload' ? (v as { eventPayload: unknown }).eventPayload : v;
}

/** What a command is applied to. */
export interface CommandTarget {
  rec: RunRecord;
  proj: RunProjection;
  /** The step's batch; absent when the run has ended (the command can only be refused). */
  batch?: Batch;
}

/**
 * Applies a command to the run state and returns its answer.
 * @throws WeftError the caller's error (`run_state_conflict`, `interrupt_*`, `validation_error`, …)
 */
export function applyCommand(t: CommandTarget, cmd: RunCommand, validator: ValidatorFactory): CommandResult {
  const { rec, proj, batch: b } = t;
  const runId = rec.runId;
  const cancelled = b ? b.state.cancel : rec.cancelRequested;
  if (cmd.kind === 'pause') {
    if (proj.paused) throw new WeftError('run_state_conflict', 'The run is already paused.', { runStatus: 'paused', pausedAt: proj.paused.at });
    if (proj.pausing) throw new WeftError('run_state_conflict', 'The run is already pausing.', { runStatus: 'paused', pausedAt: proj.pausing.at });
    if (!b) throw new WeftError('run_state_conflict', `The run is ${proj.status}.`, { runStatus: proj.status });
    if (cancelled) throw new WeftError('run_state_conflict', 'The run is being cancelled.', { runStatus: 'cancelling' });
    const payload: Record<string, unknown> = { drainPolicy: cmd.drainPolicy, pausedBy: cmd.principal };
    if (cmd.reason !== undefined) payload.reason = cmd.reason;
    if (cmd.drainPolicy === 'drain-current-node' && hasRunningNodes(proj)) {
      // Recorded, so a restart keeps draining; run.paused follows the running nodes' terminal
      // events (see step()).
      b.add('weft.run.pausing', payload);
      return { runId, status: 'paused', pausedAt: b.ts };
    }
    b.add('run.paused', payload);
    if (cmd.drainPolicy === 'immediate') abortAll(b);
    return { runId, status: 'paused', pausedAt: b.ts };
  }
  if (cmd.kind === 'resume') {
    if (proj.pausing && !proj.paused && b) {
      // Resumed before the drain finished: the pause never took effect.
      const payload: Record<string, unknown> = { resumedBy: cmd.principal };
      if (cmd.reason !== undefined) payload.reason = cmd.reason;
      b.add('weft.run.pause-withdrawn', payload);
      return { runId, status: 'running', resumedAt: b.ts };
    }
    if (!proj.paused || !b) throw new WeftError('run_state_conflict', 'The run is not paused.', { runStatus: proj.status });
    const payload: Record<string, unknown> = { resumedBy: cmd.principal };
    if (cmd.reason !== undefined) payload.reason = cmd.reason;
    b.add('run.resumed', payload);
    return { runId, status: 'running', resumedAt: b.ts };
  }
  const all = Object.values(proj.interrupts ?? {});
  const iv = cmd.interruptId
    ? proj.interrupts?.[cmd.interruptId]
    : (all.find((i) => i.nodeId === cmd.nodeId && i.status === 'pending') ?? all.filter((i) => i.nodeId === cmd.nodeId).at(-1));
  if (!iv || (cmd.nodeId !== undefined && iv.nodeId !== cmd.nodeId)) throw new WeftError('not_found', 'No interrupt for this node.');
  const answer = (outcome?: string, votes?: CommandResult['interrupt']): CommandResult => ({
    runId,
    status: proj.status,
    nodeId: iv.nodeId,
    interruptId: iv.interruptId,
    interrupt: { kind: iv.kind, ...(outcome ? { outcome } : {}), ...(votes ? { votes: votes.votes } : {}) } as CommandResult['interrupt'],
  });
  // A delegated vote is refused before anything else about the interrupt is answered.
  const split: { resumeValue: unknown; voter?: string } =
    iv.kind === 'approval' ? splitVoter(cmd) : { resumeValue: iv.kind === 'external-event' ? unwrapEventPayload(cmd.resumeValue) : cmd.resumeValue };
  const parentCancelled = cancelled?.reason === 'parent-cancelled';
  // A resolved interrupt never answers 2xx again, not even to an identical payload:
  // re-delivery of one request is what Idempotency-Key replays are for.
  if (iv.status === 'resolved') throw new WeftError('interrupt_already_resolved', 'The interrupt was already resolved.', { interruptId: iv.interruptId });
  if (iv.status === 'expired') throw new WeftError('interrupt_expired', 'The interrupt passed its deadline.', { interruptId: iv.interruptId });
  if (iv.status === 'cancelled' || cancelled) {
    if (parentCancelled || cmd.via === 'token') throw new WeftError('interrupt_gone', 'The interrupt was invalidated.', { interruptId: iv.interruptId });
    throw new WeftError('interrupt_cancelled', 'The run was cancelled while the interrupt was pending.', { interruptId: iv.interruptId });
  }
  if (!b) throw new WeftError('interrupt_gone', 'The interrupt is no longer pending.', { interruptId: iv.interruptId });
  const node = b.state.graph.byId.get(iv.nodeId);
  if (cmd.via === 'token' && node?.config.profile === 'openwop-interrupt-auth-required') {
    throw new WeftError('auth_elevation_required', 'Resolve this interrupt with a bearer credential holding approvals:respond.');
  }
  if (iv.resumeSchema) {
    try {
      validator(iv.resumeSchema)(split.resumeValue, 'resumeValue');
    } catch (e) {
      if (e instanceof WeftError) throw new WeftError('validation_error', "resumeValue does not match the interrupt's resumeSchema.", e.details);
      throw e;
    }
  }
  if (iv.kind === 'approval') return applyApproval(b, iv, { ...cmd, resumeValue: split.resumeValue }, split.voter, answer);
  let value = split.resumeValue;
  if (iv.kind === 'clarification') value = checkAnswers(iv, value, validator);
  if (iv.kind === 'external-event') checkCorrelation(iv, value);
  resolveWith(b, iv, value, cmd.principal);
  return answer('resolved');
}

/** Aborts every body in flight: their outcomes no longer count. */
export function abortAll(b: Batch): void {
  if (b.state.inflight.size === 0) return;
  b.state.inflight.clear();
  b.effects.push({ type: 'abort' });
}

function applyApproval(
  b: Batch,
  iv: InterruptView,
  cmd: Extract<RunCommand, { kind: 'resolve' }>,
  voter: string | undefined,
  answer: (outcome?: string, votes?: CommandResult['interrupt']) => CommandResult,
): CommandResult {
  const v = { ...((cmd.resumeValue ?? {}) as Record<string, unknown>) };
  // The decider is the authenticated principal (or the voter it was trusted to name); a
  // client-supplied decidedBy is ignored.
  delete v.decidedBy;
  delete v.decidedAt;
  const action = v.action === 'edit' ? 'edit-accept' : String(v.action);
  // Named voters live in their own namespace, so a delegate can never vote as an
  // authenticated principal.
  const identity = voter === undefined ? cmd.principal : `voter:${voter}`;
  const delegated = voter === undefined ? undefined : { delegatedBy: cmd.principal };
  const approvers = Array.isArray(iv.data.approversList) ? (iv.data.approversList as string[]) : [];
  if (approvers.length > 0 && !approvers.includes(identity)) throw new WeftError('forbidden', 'This principal is not an approver of this gate.');
  const required = typeof iv.data.requiredApprovals === 'number' ? iv.data.requiredApprovals : 1;
  const answerFor = (outcome: string, votes?: CommandResult['interrupt']): CommandResult => {
    const r = answer(outcome, votes);
    return voter === undefined ? r : { ...r, voter: identity };
  };
  const recordDelegation = (): void => {
    if (!delegated) return;
    // approval.granted/rejected are closed payloads: the delegate is recorded beside them.
    b.add(
      'log.appended',
      {
        level: 'info',
        message: 'approval vote cast on behalf of a named voter',
        nodeId: iv.nodeId,
        fields: { voter: identity, principal: cmd.principal, action },
      },
      iv.nodeId,
    );
  };
  if (required <= 1) {
    recordDelegation();
    const outcome = action === 'reject' ? 'rejected' : 'accepted';
    resolveWith(b, iv, { ...v, action, decidedBy: identity, decidedAt: b.ts }, identity, outcome, undefined, delegated);
    return answerFor(outcome);
  }
  const votes = iv.votes ?? [];
  if (votes.some((x) => x.principal === identity)) {
    throw new WeftError('already_voted', 'This principal or voter already voted on this approval.', { interruptId: iv.interruptId });
  }
  const granted = votes.filter((x) => x.action === 'accept').length + (action === 'reject' ? 0 : 1);
  const rejected = votes.filter((x) => x.action === 'reject').length + (action === 'reject' ? 1 : 0);
  const tally = { granted, rejected, required };
  recordDelegation();
  if (action === 'reject') {
    const payload: Record<string, unknown> = { gateId: iv.nodeId, principal: identity };
    if (typeof v.comment === 'string') payload.reason = v.comment;
    b.add('approval.rejected', payload, iv.nodeId);
    const threshold = iv.data.rejectionPolicy === 'majority' ? Math.floor(required / 2) + 1 : 1;
    if (rejected < threshold) return answerFor('pending', { kind: 'approval', votes: tally });
    resolveWith(b, iv, { action: 'reject', decidedBy: `quorum:${rejected}-of-${required}`, decidedAt: b.ts }, identity, 'rejected', undefined, delegated);
    return answerFor('rejected', { kind: 'approval', votes: tally });
  }
  b.add('approval.granted', { gateId: iv.nodeId, principal: identity, quorumProgress: { granted, required } }, iv.nodeId);
  if (granted < required) return answerFor('pending', { kind: 'approval', votes: tally });
  resolveWith(b, iv, { ...v, action, decidedBy: `quorum:${granted}-of-${required}`, decidedAt: b.ts }, identity, 'accepted', undefined, delegated);
  return answerFor('accepted', { kind: 'approval', votes: tally });
}

/** Normalizes clarification answers to a map and checks every question is answered. */
function checkAnswers(iv: InterruptView, value: unknown, validator: ValidatorFactory): { answers: Record<string, unknown> } {
  const raw = (value as { answers?: unknown }).answers;
  const answers: Record<string, unknown> = {};
  if (Array.isArray(raw)) {
    for (const a of raw)
      if (a && typeof a === 'object' && typeof (a as { id?: unknown }).id === 'string') answers[(a as { id: string }).id] = (a as { answer?: unknown }).answer;
  } else if (raw && typeof raw === 'object') Object.assign(answers, raw);
  const questions = (Array.isArray(iv.data.questions) ? iv.data.questions : []) as { id: string; schema?: Record<string, unknown> }[];
  const errors: { path: string; message: string }[] = [];
  const ids = new Set(questions.map((q) => q.id));
  for (const q of questions) {
    if (answers[q.id] === undefined || answers[q.id] === null || answers[q.id] === '')
      errors.push({ path: `/resumeValue/answers/${q.id}`, message: 'missing answer' });
    else if (q.schema) {
      try {
        validator(q.schema)(answers[q.id], `answer to ${q.id}`);
      } catch {
        errors.push({ path: `/resumeValue/answers/${q.id}`, message: 'does not match the question schema' });
      }
    }
  }
  for (const k of Object.keys(answers)) if (!ids.has(k)) errors.push({ path: `/resumeValue/answers/${k}`, message: 'unknown question' });
  if (errors.length > 0) throw new WeftError('validation_error', 'The clarification answers are invalid.', { errors });
  return { answers };
}

/** Shallow-matches every key of the interrupt's correlation against the event. */
function checkCorrelation(iv: InterruptView, value: unknown): void {
  const expected = (iv.data.correlation ?? {}) as Record<string, unknown>;
  const v = (value ?? {}) as Record<string, unknown>;
  const got = (v.correlation && typeof v.correlation === 'object' ? v.correlation : v) as Record<string, unknown>;
  const mismatched = Object.keys(expected).filter((k) => canonicalJson(got[k]) !== canonicalJson(expected[k]));
  if (mismatched.length > 0) throw new WeftError('correlation_mismatch', 'The event does not match the interrupt correlation.', { mismatched });
}
