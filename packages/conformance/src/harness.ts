/**
 * Black-box helpers: raw HTTP calls against the target, with every emitted document checked
 * against the official schemas, plus event-driven waits (long-poll, SSE) with deadlines.
 */
import { inject } from 'vitest';
import type { RunEventDoc } from '@weft/contract';
import { checkContract } from './contract-check.js';
import type { TargetInfo } from './global-setup.js';

export const target: TargetInfo = inject('target');

/** A response with its parsed JSON body (or null). */
export interface Res<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface CallOptions {
  /** Bearer key; `null` sends no Authorization header. Defaults to tenant A's key. */
  key?: string | null;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

/** Options of {@link callAt}. */
export interface CallAtOptions {
  /** Bearer credential; `null`/undefined sends no Authorization header. */
  bearer?: string | null;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** One request against `baseUrl`; non-2xx JSON bodies must be exactly the closed error envelope. */
export async function callAt<T = Record<string, unknown>>(baseUrl: string, method: string, path: string, opts: CallAtOptions = {}): Promise<Res<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.bearer) headers.authorization ??= `Bearer ${opts.bearer}`;
  let body: string | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body, redirect: 'manual', ...(opts.signal ? { signal: opts.signal } : {}) });
  const text = await res.text();
  let parsed: unknown = null;
  if (text && (res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
  if (res.status >= 400) assertErrorEnvelope(parsed);
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

/** A request against the target; the bearer defaults to tenant A's key. */
export function call<T = Record<string, unknown>>(method: string, path: string, opts: CallOptions = {}): Promise<Res<T>> {
  const { key, ...rest } = opts;
  return callAt<T>(target.baseUrl, method, path, { ...rest, bearer: key === undefined ? target.keyA : key });
}

/** Asserts the closed error envelope `{error, message, details?}`. */
export function assertErrorEnvelope(body: unknown): void {
  if (!body || typeof body !== 'object') throw new Error(`error response is not a JSON object: ${String(body)}`);
  const keys = Object.keys(body).sort();
  const allowed = ['details', 'error', 'message'];
  if (keys.some((k) => !allowed.includes(k))) throw new Error(`error envelope has extra keys: ${keys.join(',')}`);
  const b = body as { error?: unknown; message?: unknown; details?: unknown };
  if (typeof b.error !== 'string' || !b.error || typeof b.message !== 'string' || !b.message) throw new Error('error envelope lacks error/message strings');
  if (b.details !== undefined && (typeof b.details !== 'object' || b.details === null || Array.isArray(b.details)))
    throw new Error('details must be an object');
  checkContract('error-envelope', body);
}

/** Starts a run and returns the 201 body. */
export async function startRun(
  workflowId: string,
  extra: Record<string, unknown> = {},
  opts: CallOptions = {},
): Promise<{ runId: string; status: string; eventsUrl: string }> {
  const r = await call<{ runId: string; status: string; eventsUrl: string }>('POST', '/v1/runs', { ...opts, body: { workflowId, ...extra } });
  if (r.status !== 201) throw new Error(`POST /v1/runs ${workflowId} → ${r.status} ${r.text}`);
  return r.body;
}

/** Reads the snapshot (checked against the official schema). */
export async function snapshot(runId: string, key?: string): Promise<Record<string, unknown>> {
  const r = await call('GET', `/v1/runs/${runId}`, key === undefined ? {} : { key });
  if (r.status !== 200) throw new Error(`GET run → ${r.status} ${r.text}`);
  checkContract('run-snapshot', r.body);
  return r.body;
}

export interface PollBody {
  runId: string;
  events: RunEventDoc[];
  lastEventSeq: number;
  runStatus: string;
  isTerminal: boolean;
  isComplete: boolean;
}

/** One poll (events checked against the official schema). */
export async function poll(runId: string, query = ''): Promise<Res<PollBody>> {
  const r = await call<PollBody>('GET', `/v1/runs/${runId}/events/poll${query ? `?${query}` : ''}`);
  if (r.status === 200) for (const e of r.body.events) checkContract('run-event', e);
  return r;
}

export const TERMINAL = new Set(['run.completed', 'run.failed', 'run.cancelled']);

/**
 * Waits for the run's terminal event by long-polling (an event-driven wait with a deadline)
 * and returns the whole log.
 */
export async function waitForTerminal(runId: string, deadlineMs = 15_000): Promise<RunEventDoc[]> {
  const end = Date.now() + deadlineMs;
  const events: RunEventDoc[] = [];
  let last = -1;
  while (Date.now() < end) {
    const r = await poll(runId, `lastSequence=${last}&timeout=${Math.max(1, Math.min(10, Math.floor((end - Date.now()) / 1000)))}`);
    if (r.status !== 200) throw new Error(`poll → ${r.status} ${r.text}`);
    events.push(...r.body.events);
    last = r.body.lastEventSeq;
    if (r.body.isTerminal && r.body.events.length === 0 && events.some((e) => TERMINAL.has(e.type))) return events;
    if (r.body.isTerminal && r.body.isComplete) return events;
  }
  throw new Error(`run ${runId} did not reach a terminal event within ${deadlineMs} ms`);
}

/** Waits (by long-poll) until an event of `type` has been appended; returns the log so far. */
export async function waitForEvent(runId: string, type: string, deadlineMs = 10_000): Promise<RunEventDoc[]> {
  const end = Date.now() + deadlineMs;
  const events: RunEventDoc[] = [];
  let last = -1;
  while (Date.now() < end) {
    const r = await poll(runId, `lastSequence=${last}&timeout=2`);
    events.push(...r.body.events);
    last = r.body.lastEventSeq;
    if (events.some((e) => e.type === type)) return events;
    if (r.body.isTerminal) break;
  }
  throw new Error(`no ${type} event on ${runId}`);
}

/** One SSE frame. */
export interface Frame {
  id?: string;
  event?: string;
  data: string;
}

export interface SseResult {
  status: number;
  headers: Headers;
  frames: Frame[];
  comments: string[];
  /** `server` when the server ended the stream, `client` when the deadline or stop hit first. */
  closedBy: 'server' | 'client';
  /** Error body when the status was not 200. */
  error?: Record<string, unknown>;
}

/**
 * Opens an SSE stream and collects frames until the server closes it, `stopWhen` returns
 * true, or the deadline passes. Frames' data are checked against the official event schema.
 */
export async function sse(
  runId: string,
  query = '',
  opts: { headers?: Record<string, string>; key?: string | null; deadlineMs?: number; stopWhen?: (r: SseResult) => boolean } = {},
): Promise<SseResult> {
  const ctrl = new AbortController();
  const headers: Record<string, string> = { accept: 'text/event-stream', ...opts.headers };
  const key = opts.key === undefined ? target.keyA : opts.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const res = await fetch(`${target.baseUrl}/v1/runs/${runId}/events${query ? `?${query}` : ''}`, { headers, signal: ctrl.signal });
  const out: SseResult = { status: res.status, headers: res.headers, frames: [], comments: [], closedBy: 'client' };
  if (res.status !== 200) {
    const text = await res.text();
    out.error = JSON.parse(text) as Record<string, unknown>;
    assertErrorEnvelope(out.error);
    return out;
  }
  const timer = setTimeout(() => ctrl.abort(), opts.deadlineMs ?? 10_000);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let buf = '';
  let frame: Partial<Frame> & { data?: string } = {};
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        out.closedBy = 'server';
        break;
      }
      buf += dec.decode(value, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        if (line === '') {
          if (frame.data !== undefined) {
            const f: Frame = { data: frame.data };
            if (frame.id !== undefined) f.id = frame.id;
            if (frame.event !== undefined) f.event = frame.event;
            out.frames.push(f);
            checkFrame(f);
          }
          frame = {};
        } else if (line.startsWith(':')) out.comments.push(line.slice(1).trim());
        else {
          const i = line.indexOf(':');
          const field = i < 0 ? line : line.slice(0, i);
          const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
          if (field === 'data') frame.data = frame.data === undefined ? value : `${frame.data}\n${value}`;
          else if (field === 'id') frame.id = value;
          else if (field === 'event') frame.event = value;
        }
      }
      if (opts.stopWhen?.(out)) {
        ctrl.abort();
        break;
      }
    }
  } catch (e) {
    if (!ctrl.signal.aborted) throw e;
  } finally {
    clearTimeout(timer);
  }
  return out;
}

function checkFrame(f: Frame): void {
  const parsed = JSON.parse(f.data) as unknown;
  const docs = Array.isArray(parsed) ? parsed : [parsed];
  for (const d of docs) if ((d as { type?: string }).type !== 'state.snapshot') checkContract('run-event', d);
}

/** The RunEventDocs carried by frames (batches expanded). */
export function docsOf(frames: Frame[]): RunEventDoc[] {
  return frames.flatMap((f) => {
    const v = JSON.parse(f.data) as RunEventDoc | RunEventDoc[];
    return Array.isArray(v) ? v : [v];
  });
}

const workflowPresence = new Map<string, Promise<boolean>>();

/** True when the target serves `GET /v1/workflows/{id}` with 200 (probed once per worker). */
export function hasWorkflow(id: string): Promise<boolean> {
  let p = workflowPresence.get(id);
  if (!p) {
    p = call('GET', `/v1/workflows/${encodeURIComponent(id)}`).then((r) => r.status === 200);
    workflowPresence.set(id, p);
  }
  return p;
}

/** What a block of scenarios needs from the host beyond the OpenWOP core. */
export interface HostNeeds {
  /** Weft example workflows (`weft-*`) that must be registered. */
  workflows?: readonly string[];
  /**
   * Official conformance fixtures the block runs. Checked on external targets only: the
   * suite's own host loads them all, and one missing there is a failure, not a skip.
   */
  fixtures?: readonly string[];
  /** Weft-only routes. */
  routes?: readonly (keyof TargetInfo['routes'])[];
}

/**
 * Why the target cannot run a block of scenarios, or `null` when it can. A non-null reason is
 * printed once (`skipping <what>: …`), so a skip against a host that lacks a workflow or a
 * Weft-only route is always explained. Use with `describe.skipIf(await lacks(...))`.
 */
export async function lacks(what: string, needs: HostNeeds): Promise<string | null> {
  const missingRoutes = (needs.routes ?? []).filter((r) => !target.routes[r]);
  const wanted = [...(needs.workflows ?? []), ...(target.inProcess ? [] : (needs.fixtures ?? []))];
  const present = await Promise.all(wanted.map((id) => hasWorkflow(id)));
  const missingWorkflows = wanted.filter((_, i) => !present[i]);
  const parts = [
    ...(missingRoutes.length > 0 ? [`the host lacks the route(s) ${missingRoutes.join(', ')}`] : []),
    ...(missingWorkflows.length > 0 ? [`the host has no workflow ${missingWorkflows.join(', ')}`] : []),
  ];
  if (parts.length === 0) return null;
  const reason = parts.join('; ');
  process.stderr.write(`skipping ${what}: ${reason}\n`);
  return reason;
}

/**
 * True (after printing why) when the target is not Weft started by this suite, so scenarios
 * that start their own hosts or read host internals must skip.
 */
export function notInProcess(what: string, why = 'they start their own Weft or read its internals'): boolean {
  if (target.inProcess) return false;
  process.stderr.write(`skipping ${what}: ${why}, which an external target does not allow\n`);
  return true;
}

/** A fresh idempotency key. */
export const freshKey = (): string => `k-${Math.random().toString(36).slice(2)}-${Date.now()}`;
