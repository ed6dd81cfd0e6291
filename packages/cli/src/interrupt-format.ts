/**
 * Human renderings of interrupts (human-in-the-loop pauses): the prompt block
 * `runs start --watch` and `runs events --follow` print when a run starts waiting, the
 * `interrupts list` table, the `interrupts show` detail view, and the one-line outcome of an
 * answer. Each tells the reader the exact `weft` command that answers the interrupt.
 *
 * @see execution-semantics.md §2.4, wire-contract.md §1.1 (#11–#15)
 */
import type { RunEventDoc } from '@weft/contract';
import type { InterruptView, InterruptVote, PauseRunResponse, ResolveInterruptResponse, ResumeRunResponse, RunInterruptBlock } from '@weft/sdk';
import type { Colors } from './cli-io.js';
import { summarizePayload, truncate } from './event-format.js';
import { formatTable } from './run-format.js';

/** Longest summary in the `interrupts list` table. */
export const INTERRUPT_SUMMARY_MAX = 60;
/** Indentation of the prompt block: it lines up with the event type column. */
const PROMPT_INDENT = '      ';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * What the CLI knows about one interrupt, from whichever source it came: an
 * `interrupt.requested` event, a bare `node.suspended` event (no `data` yet), an interrupt
 * view of `GET /v1/runs/{runId}/interrupts`, or the `interrupt` block of a snapshot.
 */
export interface InterruptInfo {
  runId: string;
  nodeId: string;
  kind: string;
  /** The kind-specific payload; undefined when only `node.suspended` was seen. */
  data?: Record<string, unknown>;
  interruptId?: string;
  key?: string;
  status?: string;
  requestedAt?: string;
  resumeSchema?: Record<string, unknown>;
  timeoutMs?: number;
  expiresAt?: string;
  votes?: InterruptVote[];
  outcome?: string;
  resolvedAt?: string;
  /** Only when a snapshot carried one for this interrupt (a credential: print it on request only). */
  interruptToken?: string;
  tokenExpiresAt?: string;
}

/** An {@link InterruptInfo} from an interrupt view (optionally with the snapshot's token). */
export function infoFromView(view: InterruptView, snapshotBlock?: RunInterruptBlock): InterruptInfo {
  const info: InterruptInfo = {
    runId: view.runId,
    nodeId: view.nodeId,
    kind: view.kind,
    data: isRecord(view.data) ? view.data : {},
    interruptId: view.interruptId,
    key: view.key,
    status: view.status,
    requestedAt: view.requestedAt,
  };
  if (view.resumeSchema) info.resumeSchema = view.resumeSchema;
  if (view.timeoutMs !== undefined) info.timeoutMs = view.timeoutMs;
  if (view.expiresAt) info.expiresAt = view.expiresAt;
  if (view.votes) info.votes = view.votes;
  if (view.outcome) info.outcome = view.outcome;
  if (view.resolvedAt) info.resolvedAt = view.resolvedAt;
  if (snapshotBlock && snapshotBlock.interruptId === view.interruptId && snapshotBlock.interruptToken) {
    info.interruptToken = snapshotBlock.interruptToken;
    if (snapshotBlock.tokenExpiresAt) info.tokenExpiresAt = snapshotBlock.tokenExpiresAt;
  }
  return info;
}

/**
 * Quotes a value for a POSIX shell only when it needs it, so printed commands can be pasted
 * as they are.
 */
export function shellQuote(value: string): string {
  if (/^[\w.:/@%+=,-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A compact age: `12s`, `5m`, `3h`, `2d` (negative ages read as `0s`). */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

/** A timeout in ms: `800ms` below a second, else like {@link formatAge}. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.max(0, Math.round(ms))}ms` : formatAge(ms);
}

/** Age of an ISO timestamp at `now`, or `''` when it is missing or unreadable. */
function ageOf(iso: string | undefined, now: number): string {
  if (!iso) return '';
  const at = Date.parse(iso);
  return Number.isNaN(at) ? '' : formatAge(now - at);
}

interface Question {
  id: string;
  question: string;
  /** JSON Schema type of a typed answer (`number`, `boolean`…); undefined for free text. */
  type?: string;
}

const questionsOf = (data: Record<string, unknown> | undefined): Question[] =>
  (Array.isArray(data?.questions) ? data.questions : [])
    .filter(isRecord)
    .filter((q) => typeof q.id === 'string')
    .map((q) => {
      const type = isRecord(q.schema) ? q.schema.type : undefined;
      const out: Question = { id: q.id as string, question: str(q.question) ?? '' };
      if (typeof type === 'string' && type !== 'string') out.type = type;
      return out;
    });

/**
 * The decisions an approval offers: `data.actions`, narrowed to the `action` enum of the resume
 * schema when there is one (a host may list `ask` without accepting it as a decision).
 */
const actionsOf = (data: Record<string, unknown> | undefined, resumeSchema?: Record<string, unknown>): string[] => {
  const raw = Array.isArray(data?.actions) ? data.actions.filter((a): a is string => typeof a === 'string').map((a) => (a === 'edit' ? 'edit-accept' : a)) : [];
  const props = isRecord(resumeSchema?.properties) ? resumeSchema.properties : undefined;
  const allowed = isRecord(props?.action) && Array.isArray(props.action.enum) ? new Set(props.action.enum) : undefined;
  const offered = allowed ? raw.filter((a) => allowed.has(a)) : raw;
  return offered.length > 0 ? offered : ['accept', 'reject'];
};

const requiredApprovalsOf = (data: Record<string, unknown> | undefined): number =>
  typeof data?.requiredApprovals === 'number' && data.requiredApprovals > 1 ? data.requiredApprovals : 1;

const correlationOf = (data: Record<string, unknown> | undefined): Record<string, unknown> => (isRecord(data?.correlation) ? data.correlation : {});

/** One short line about what the interrupt asks: the approval title, the first question… */
export function interruptSummary(kind: string, data: Record<string, unknown> | undefined, max: number = INTERRUPT_SUMMARY_MAX): string {
  if (!data) return '';
  if (kind === 'approval') {
    const title = str(data.title) ?? '';
    const required = requiredApprovalsOf(data);
    return truncate(required > 1 ? `${title} (${required} approvals required)`.trim() : title, max);
  }
  if (kind === 'clarification') {
    const qs = questionsOf(data);
    if (qs.length === 0) return '';
    const first = qs[0]?.question || qs[0]?.id || '';
    return truncate(qs.length > 1 ? `${first} (+${qs.length - 1} more)` : first, max);
  }
  if (kind === 'external-event') {
    const corr = correlationOf(data);
    const type = str(data.eventType) ?? 'an event';
    return truncate(Object.keys(corr).length > 0 ? `waiting for ${type} ${JSON.stringify(corr)}` : `waiting for ${type}`, max);
  }
  return summarizePayload(data, max);
}

/**
 * The exact commands that answer an interrupt, one per line, with shell-safe ids. Without
 * `data` (only `node.suspended` seen) the clarification form points at `interrupts show`.
 */
export function answerCommands(info: Pick<InterruptInfo, 'runId' | 'nodeId' | 'kind' | 'data' | 'resumeSchema'>): string[] {
  const target = `${shellQuote(info.runId)} ${shellQuote(info.nodeId)}`;
  const { data } = info;
  if (info.kind === 'approval') {
    const out: string[] = [];
    for (const action of actionsOf(data, info.resumeSchema)) {
      if (action === 'accept') out.push(`weft interrupts approve ${target} [--comment <text>]`);
      else if (action === 'reject') out.push(`weft interrupts reject ${target} [--comment <text>]`);
      else if (action === 'refine') out.push(`weft interrupts resolve ${target} --value ${shellQuote('{"action":"refine","feedback":"<text>"}')}`);
      else if (action === 'edit-accept')
        out.push(`weft interrupts resolve ${target} --value ${shellQuote('{"action":"edit-accept","editedArtifactData":<json>}')}`);
      else out.push(`weft interrupts resolve ${target} --value ${shellQuote(JSON.stringify({ action, comment: '<text>' }))}`);
    }
    return out;
  }
  if (info.kind === 'clarification') {
    const qs = questionsOf(data);
    if (qs.length === 0) return [`weft interrupts show ${target}`, `weft interrupts answer ${target} --answer <questionId>=<answer>`];
    // `--answer` sends text; typed answers (numbers, booleans…) need --answers-json.
    if (qs.some((q) => q.type)) {
      const template = `{${qs.map((q) => `${JSON.stringify(q.id)}:${q.type ? `<${q.type}>` : '"<answer>"'}`).join(',')}}`;
      return [`weft interrupts answer ${target} --answers-json ${shellQuote(template)}`];
    }
    return [`weft interrupts answer ${target} ${qs.map((q) => `--answer ${shellQuote(`${q.id}=<answer>`)}`).join(' ')}`];
  }
  if (info.kind === 'external-event') {
    const corr = correlationOf(data);
    const example = Object.keys(corr).length > 0 ? JSON.stringify(corr) : '{…the event…}';
    return [`weft interrupts resolve ${target} --value ${shellQuote(example)}`];
  }
  return [`weft interrupts resolve ${target} --value '<json>'`];
}

/** What the resume value must look like, for `interrupts show`. */
export function resumeValueShape(info: Pick<InterruptInfo, 'kind' | 'data' | 'resumeSchema'>): string {
  if (info.kind === 'approval') {
    const actions = actionsOf(info.data, info.resumeSchema);
    const extra = `${actions.includes('refine') ? ', "feedback"?: string' : ''}${actions.includes('edit-accept') ? ', "editedArtifactData"?: any' : ''}`;
    return `{"action": ${actions.join('|')}, "comment"?: string${extra}}`;
  }
  if (info.kind === 'clarification') {
    const ids = questionsOf(info.data).map((q) => q.id);
    return `{"answers": {${(ids.length > 0 ? ids : ['<questionId>']).map((id) => `${JSON.stringify(id)}: <answer>`).join(', ')}}}`;
  }
  if (info.kind === 'external-event') {
    const corr = correlationOf(info.data);
    return Object.keys(corr).length > 0 ? `the event object; it must carry ${JSON.stringify(corr)}` : 'the event object';
  }
  return info.resumeSchema ? 'any JSON value matching the resume schema' : 'any JSON value';
}

const HEADLINES: Record<string, string> = {
  approval: 'approval needed',
  clarification: 'clarification needed',
  'external-event': 'waiting for an external event',
};

/**
 * The block printed under the event line when a watched run starts waiting: kind, node, what
 * is asked, and the commands that answer it.
 */
export function formatInterruptPrompt(info: InterruptInfo, c: Colors): string {
  const headline = HEADLINES[info.kind] ?? `${info.kind} interrupt`;
  const lines: string[] = [];
  const title = info.kind === 'approval' ? str(info.data?.title) : info.kind === 'external-event' ? str(info.data?.eventType) : undefined;
  lines.push(c.bold(c.yellow(`${headline} at node ${info.nodeId} (run ${info.runId})${title ? `: ${title}` : ''}`)));
  const detail = (text: string): void => void lines.push(`  ${text}`);
  const { data } = info;
  if (info.kind === 'approval' && data) {
    const description = str(data.description);
    if (description) detail(truncate(description.replace(/\s*\n\s*/g, ' '), 200));
    if (data.artifactData !== undefined) detail(`artifact: ${truncate(JSON.stringify(data.artifactData) ?? '', 200)}`);
    const facts = [`actions: ${actionsOf(data, info.resumeSchema).join(', ')}`];
    const required = requiredApprovalsOf(data);
    if (required > 1) facts.push(`${required} approvals required`);
    if (typeof info.timeoutMs === 'number') facts.push(`times out after ${formatDuration(info.timeoutMs)}`);
    detail(facts.join('; '));
  } else if (info.kind === 'clarification' && data) {
    for (const q of questionsOf(data)) detail(`${c.magenta(q.id)}: ${q.question}${q.type ? c.dim(` (${q.type})`) : ''}`);
  } else if (info.kind === 'external-event' && data) {
    const corr = correlationOf(data);
    if (Object.keys(corr).length > 0) detail(`correlation: ${JSON.stringify(corr)}`);
  } else if (data) {
    const summary = summarizePayload(data);
    if (summary) detail(`data: ${summary}`);
  }
  // Approvals and clarifications are answered through the commands below; others need the schema.
  if (info.resumeSchema && info.kind !== 'approval' && info.kind !== 'clarification')
    detail(`resume schema: ${truncate(JSON.stringify(info.resumeSchema), 200)}`);
  if (info.kind !== 'approval' && typeof info.timeoutMs === 'number') detail(`times out after ${formatDuration(info.timeoutMs)}`);
  detail(info.kind === 'external-event' ? 'deliver it with:' : 'answer with:');
  for (const cmd of answerCommands(info)) detail(`  ${c.cyan(cmd)}`);
  detail(c.dim('still watching: the run goes on once it is answered'));
  return lines.map((l) => `${PROMPT_INDENT}${l}`).join('\n');
}

/**
 * Turns the event stream of one run into prompts. `interrupt.requested` carries everything;
 * a `node.suspended` is held back for the `interrupt.requested` that normally follows it and
 * is prompted on its own (without details) when anything else comes first, or on {@link flush}.
 */
export interface InterruptWatcher {
  /** Feeds one event; returns the prompts due after it. */
  push(event: RunEventDoc): InterruptInfo[];
  /** Returns (and forgets) the suspensions still waiting for their `interrupt.requested`. */
  flush(): InterruptInfo[];
  /** True while a `node.suspended` is held back. */
  readonly holding: boolean;
}

const eventNodeId = (e: RunEventDoc): string | undefined => e.nodeId ?? (isRecord(e.payload) ? str(e.payload.nodeId) : undefined);

/** Events after which a held `node.suspended` of the same node is dropped instead of prompted. */
const SETTLING_EVENT_TYPES: ReadonlySet<string> = new Set([
  'interrupt.resolved',
  'node.resumed',
  'node.completed',
  'node.failed',
  'node.cancelled',
  'node.skipped',
]);

/** Creates an {@link InterruptWatcher}. */
export function createInterruptWatcher(): InterruptWatcher {
  const held = new Map<string, InterruptInfo>();
  const flush = (): InterruptInfo[] => {
    const out = [...held.values()];
    held.clear();
    return out;
  };
  return {
    push(e) {
      const nodeId = eventNodeId(e);
      const p = isRecord(e.payload) ? e.payload : {};
      if (e.type === 'interrupt.requested' && nodeId !== undefined) {
        const suspended = held.get(nodeId);
        held.delete(nodeId);
        const info: InterruptInfo = {
          runId: e.runId,
          nodeId,
          kind: str(p.kind) ?? suspended?.kind ?? 'custom',
          data: isRecord(p.data) ? p.data : {},
          requestedAt: e.timestamp,
        };
        const interruptId = str(p.interruptId) ?? suspended?.interruptId;
        if (interruptId) info.interruptId = interruptId;
        if (str(p.key)) info.key = p.key as string;
        if (isRecord(p.resumeSchema)) info.resumeSchema = p.resumeSchema;
        if (typeof p.timeoutMs === 'number') info.timeoutMs = p.timeoutMs;
        return [...flush(), info];
      }
      // The node already moved on: its suspension needs no prompt any more.
      if (nodeId !== undefined && SETTLING_EVENT_TYPES.has(e.type)) held.delete(nodeId);
      const out = flush();
      if (e.type === 'node.suspended' && nodeId !== undefined) {
        const info: InterruptInfo = { runId: e.runId, nodeId, kind: str(p.kind) ?? 'custom', requestedAt: e.timestamp };
        if (str(p.interruptId)) info.interruptId = p.interruptId as string;
        if (str(p.key)) info.key = p.key as string;
        held.set(nodeId, info);
      }
      return out;
    },
    flush,
    get holding() {
      return held.size > 0;
    },
  };
}

/** Table of interrupts for `weft interrupts list` (a STATUS column when `withStatus`). */
export function formatInterruptTable(list: readonly InterruptView[], now: number, opts: { withStatus?: boolean } = {}): string {
  if (list.length === 0) return opts.withStatus ? 'no interrupts' : 'no pending interrupts';
  const header = ['RUN', 'NODE', 'KIND', ...(opts.withStatus ? ['STATUS'] : []), 'AGE', 'SUMMARY'];
  const rows = list.map((i) => {
    const status = i.status === 'pending' || !i.outcome ? i.status : `${i.status} (${i.outcome})`;
    return [
      i.runId,
      i.nodeId,
      i.kind,
      ...(opts.withStatus ? [status] : []),
      ageOf(i.requestedAt, now),
      interruptSummary(i.kind, isRecord(i.data) ? i.data : undefined),
    ];
  });
  return formatTable([header, ...rows]);
}

/** Indents every line of `text`. */
const indent = (text: string, by: string): string =>
  text
    .split('\n')
    .map((l) => by + l)
    .join('\n');

/**
 * Detail view for `weft interrupts show`: identity, state, what is asked, the resume value
 * shape and schema, how to answer, and the callback token when the snapshot carried one.
 */
export function formatInterruptDetails(info: InterruptInfo, c: Colors, now: number, baseUrl?: string): string {
  const rows: [string, string | undefined][] = [
    ['interrupt', info.interruptId],
    ['run', info.runId],
    ['node', info.nodeId],
    ['kind', info.kind],
    ['key', info.key],
    ['status', info.status ? (info.outcome ? `${info.status} (${info.outcome})` : info.status) : undefined],
    ['requested', info.requestedAt ? `${info.requestedAt} (${ageOf(info.requestedAt, now)} ago)` : undefined],
    ['expires', info.expiresAt],
    ['resolved', info.resolvedAt],
  ];
  const data = info.data ?? {};
  if (info.kind === 'approval') {
    rows.push(
      ['title', str(data.title)],
      ['description', str(data.description)?.replace(/\s*\n\s*/g, ' ')],
      ['artifact', data.artifactData === undefined ? undefined : JSON.stringify(data.artifactData)],
      ['actions', actionsOf(data, info.resumeSchema).join(', ')],
    );
    const required = requiredApprovalsOf(data);
    if (required > 1) {
      const granted = (info.votes ?? []).filter((v) => v.action !== 'reject').length;
      rows.push(['approvals', `${granted} of ${required}${str(data.rejectionPolicy) ? ` (rejection policy ${str(data.rejectionPolicy)})` : ''}`]);
    }
    if (info.votes && info.votes.length > 0) rows.push(['votes', info.votes.map((v) => `${v.principal} ${v.action}`).join(', ')]);
  } else if (info.kind === 'external-event') {
    rows.push(['event type', str(data.eventType)], ['correlation', isRecord(data.correlation) ? JSON.stringify(data.correlation) : undefined]);
  } else if (info.kind !== 'clarification') {
    rows.push(['data', Object.keys(data).length > 0 ? JSON.stringify(data) : undefined]);
  }
  rows.push(['resume value', resumeValueShape(info)]);
  const present = rows.filter((r): r is [string, string] => r[1] !== undefined && r[1] !== '');
  const width = Math.max(...present.map(([k]) => k.length), 'questions'.length);
  const lines = present.map(([k, v]) => `${c.dim(k.padEnd(width))}  ${v}`);
  if (info.kind === 'clarification') {
    lines.push(c.dim('questions'));
    for (const q of questionsOf(data)) lines.push(`  ${c.magenta(q.id)}: ${q.question}${q.type ? c.dim(` (${q.type})`) : ''}`);
  }
  if (info.resumeSchema) {
    lines.push(c.dim('resume schema'));
    lines.push(indent(JSON.stringify(info.resumeSchema, null, 2), '  '));
  }
  if (info.status === undefined || info.status === 'pending') {
    lines.push(c.dim(info.kind === 'external-event' ? 'deliver it with' : 'answer with'));
    for (const cmd of answerCommands(info)) lines.push(`  ${c.cyan(cmd)}`);
    if (info.interruptToken) {
      lines.push(`${c.dim('callback token')}${info.tokenExpiresAt ? c.dim(` (valid until ${info.tokenExpiresAt})`) : ''}`);
      lines.push(`  ${info.interruptToken}`);
      lines.push(c.dim('  anyone holding it can answer without an API key:'));
      const url = `${baseUrl ?? ''}/v1/interrupts/${encodeURIComponent(info.interruptToken)}`;
      lines.push(`  ${c.cyan(`curl -X POST ${shellQuote(url)} -H 'content-type: application/json' -d '{"resumeValue": …}'`)}`);
    }
  }
  return lines.join('\n');
}

const paintOutcome = (outcome: string, c: Colors): string =>
  outcome === 'rejected' ? c.red(outcome) : outcome === 'pending' ? c.yellow(outcome) : c.green(outcome);

/** The one-line outcome of answering an interrupt (a quorum vote shows its progress). */
export function formatResolveResult(res: ResolveInterruptResponse, c: Colors): string {
  const where = `run ${res.runId} node ${res.nodeId}`;
  const outcome = res.interrupt?.outcome ?? 'resolved';
  const votes = res.interrupt?.votes;
  if (outcome === 'pending' && votes) {
    return `${where}: vote recorded, ${votes.granted} of ${votes.required} approvals${votes.rejected > 0 ? `, ${votes.rejected} rejected` : ''}; run ${res.status}`;
  }
  return `${where}: ${paintOutcome(outcome, c)}; run ${res.status}`;
}

/** The one-line outcome of `weft runs pause|resume`. */
export function formatRunControlResult(res: PauseRunResponse | ResumeRunResponse): string {
  if ('pausedAt' in res && res.status === 'paused') return `run ${res.runId} paused at ${res.pausedAt}`;
  return `run ${res.runId} ${res.status}${typeof res.resumedAt === 'string' ? ` (resumed at ${res.resumedAt})` : ''}`;
}
