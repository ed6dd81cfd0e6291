/**
 * Interrupt rules: how a node suspends, how a resolution is recorded, and what a re-executed
 * node's `ctx.interrupt` returns.
 *
 * @see ../../../../docs/interrupts.md
 */
import { createHash } from 'node:crypto';
import { NodeError, SuspendSignal, type InterruptRequest } from '../nodes.js';
import type { InterruptView } from '../ports.js';
import type { Batch } from './batch.js';
import { interruptTimerKey, type RunState } from './state.js';

/** The interrupt id of `(run, node, key)`: stable, so a re-executed node finds its interrupt. */
export function interruptIdOf(runId: string, nodeId: string, key: string): string {
  return `int_${createHash('sha256').update(`${runId}\u0000${nodeId}\u0000${key}`).digest('hex').slice(0, 24)}`;
}

/**
 * `ctx.interrupt` of a node body: the recorded resolution for the key, or a suspension.
 * @throws SuspendSignal when nothing is recorded yet; NodeError `interrupt_expired` | `interrupt_cancelled`
 */
export function interruptAnswer(state: RunState, nodeId: string, req: InterruptRequest): unknown {
  const key = req.key ?? nodeId;
  const iv = Object.values(state.proj.interrupts ?? {})
    .filter((i) => i.nodeId === nodeId && i.key === key)
    .at(-1);
  if (iv?.status === 'resolved') return structuredClone(iv.resumeValue);
  if (iv?.status === 'expired')
    throw new NodeError('interrupt_expired', `The ${iv.kind} interrupt timed out without a resolution.`, { interruptId: iv.interruptId });
  if (iv?.status === 'cancelled') throw new NodeError('interrupt_cancelled', 'The interrupt was cancelled.', { interruptId: iv.interruptId });
  throw new SuspendSignal({ ...req, key });
}

/** Appends the suspension of `nodeId` on a new interrupt (and its deadline timer). */
export function suspend(b: Batch, nodeId: string, req: InterruptRequest & { key: string }): void {
  const s = b.state;
  const interruptId = interruptIdOf(s.rec.runId, nodeId, req.key);
  if (s.proj.interrupts?.[interruptId]) {
    // A second interrupt with a key already used in this run returns nothing new.
    b.add('node.failed', { nodeId, error: { code: 'validation_error', message: `interrupt key ${req.key} was already used in this run` } }, nodeId);
    return;
  }
  const suspended: Record<string, unknown> = { nodeId, interruptId, kind: req.kind, key: req.key };
  if (req.kind === 'low-confidence') {
    // CP-1: node.suspended{reason:"low-confidence", agentId, threshold, observed}.
    suspended.reason = 'low-confidence';
    for (const k of ['agentId', 'threshold', 'observed']) if (req.data[k] !== undefined) suspended[k] = req.data[k];
  }
  b.add('node.suspended', suspended, nodeId);
  const payload: Record<string, unknown> = { kind: req.kind, key: req.key, data: req.data };
  if (req.resumeSchema) payload.resumeSchema = req.resumeSchema;
  if (req.timeoutMs !== undefined) payload.timeoutMs = req.timeoutMs;
  b.add('interrupt.requested', payload, nodeId);
  if (req.kind === 'approval') {
    const d = req.data;
    const legacy: Record<string, unknown> = {
      nodeId,
      interruptId,
      artifactId: d.artifactId,
      artifactType: d.artifactType,
      title: d.title,
      actions: (Array.isArray(d.actions) ? d.actions : []).map((a) => (a === 'edit-accept' ? 'edit' : a)),
    };
    if (typeof d.requiredApprovals === 'number') legacy.requiredApprovals = d.requiredApprovals;
    if (Array.isArray(d.approversList)) legacy.approversList = d.approversList;
    b.add('approval.requested', legacy, nodeId);
  } else if (req.kind === 'clarification') {
    b.add('clarification.requested', { nodeId, interruptId, questions: req.data.questions }, nodeId);
  }
  if (req.timeoutMs !== undefined) b.setTimer(interruptTimerKey(interruptId), b.now + req.timeoutMs);
}

/** Appends the resolution of an interrupt; the node runs again and reads the value. */
export function resolveWith(
  b: Batch,
  iv: InterruptView,
  value: unknown,
  resolvedBy: string,
  outcome?: string,
  reason?: string,
  extra?: Record<string, unknown>,
): void {
  const { nodeId, interruptId } = iv;
  const resolved: Record<string, unknown> = { nodeId, interruptId, kind: iv.kind, resumeValue: value, resolvedBy, resolvedAt: b.ts, ...extra };
  if (outcome) resolved.outcome = outcome;
  if (reason) resolved.reason = reason;
  b.add('interrupt.resolved', resolved, nodeId);
  if (iv.kind === 'approval') {
    const v = (value ?? {}) as Record<string, unknown>;
    const received: Record<string, unknown> = { nodeId, action: String(v.action), decidedAt: b.ts };
    if (typeof v.decidedBy === 'string') received.decidedBy = v.decidedBy;
    for (const k of ['comment', 'feedback', 'refineFeedback', 'editedArtifactData']) if (v[k] !== undefined) received[k] = v[k];
    b.add('approval.received', received, nodeId);
  } else if (iv.kind === 'clarification' && value && typeof value === 'object') {
    b.add('clarification.resolved', { nodeId, answers: (value as { answers: unknown }).answers, answeredBy: resolvedBy }, nodeId);
  }
  b.add('node.resumed', { nodeId, interruptId, resumeValue: value }, nodeId);
  b.timers.clear.push(interruptTimerKey(interruptId));
}

/** Expires every pending interrupt whose deadline passed: approvals fail closed (rejected). */
export function expireInterrupts(b: Batch): void {
  for (const iv of Object.values(b.state.proj.interrupts ?? {})) {
    if (iv.status !== 'pending' || !iv.expiresAt || Date.parse(iv.expiresAt) > b.now) continue;
    if (iv.kind === 'approval') resolveWith(b, iv, { action: 'timeout', decidedAt: b.ts }, 'system:timeout', 'rejected', 'timeout');
    else resolveWith(b, iv, null, 'system:timeout', 'expired', 'timeout');
  }
}
