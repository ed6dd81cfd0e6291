/**
 * The host's operational log lines: ONE line per HTTP request and ONE line per run transition,
 * at `info`, cheap enough to leave on at the defaults.
 *
 * - A request line is written when the response closes (finished, or the client went away —
 *   so an SSE stream gets its line when it ends): method, route pattern (never the concrete
 *   path, which carries ids and query strings), status, duration, the host's request id, the
 *   correlation id (the caller's `X-Request-Id` when it is a plain token, else the trace id of
 *   its `traceparent`, else the request id), the tenant once authenticated, the run id when
 *   the route has one, and the error code when the answer is an error.
 * - A run line is written after the append that moved the run (started, completed, failed,
 *   cancelled, paused, resumed, waiting): run id, tenant, workflow id, status, error code, and
 *   the correlation id of the request that created the run in this process (or its trace id).
 *
 * Every field is a short scalar: nothing large is serialised per request, and every line still
 * passes the one redactor (`createLogger`'s `streamWrite` hook) on its way out ({@link OpsLines}).
 *
 * @see ../../../docs/operations.md §Logging, execution-semantics.md §9 (logs MUST carry …)
 */
import type { EncodedEvent, RunRecord } from '@weft/engine';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import pino, { type Logger } from 'pino';
import { TRACEPARENT } from './telemetry-config.js';

/** An incoming `X-Request-Id` is honoured as the correlation id only when it is a plain token. */
const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** Routes whose request lines are `debug`, not `info`: probes would drown the log. */
const QUIET_ROUTES = new Set(['/healthz', '/readyz']);

declare module 'fastify' {
  interface FastifyReply {
    /** The error code of the envelope this reply sent (set by `sendError`), for the request line. */
    weftErrorCode: string | null;
  }
}

/** The correlation id of a request: `X-Request-Id` (plain token), else the `traceparent` trace id, else the request id. */
export function correlationOf(req: FastifyRequest): string {
  const given = req.headers['x-request-id'];
  if (typeof given === 'string' && REQUEST_ID.test(given)) return given;
  const tp = req.headers.traceparent;
  if (typeof tp === 'string') {
    const m = TRACEPARENT.exec(tp);
    if (m) return m[1] as string;
  }
  return String(req.id);
}

/**
 * Correlation ids of runs created by this process, until the run ends: the run lines carry the
 * id of the request that created the run. Bounded; past the bound a run line falls back to the
 * run's trace id (or none), which only loses a convenience.
 */
export class RunCorrelations {
  private readonly ids = new Map<string, string>();
  constructor(private readonly max = 100_000) {}
  /** Remembers the correlation id of the request that created `runId`. */
  set(runId: string, correlationId: string): void {
    if (this.ids.size < this.max) this.ids.set(runId, correlationId);
  }
  /** The correlation id of `runId`, forgotten when `end` is true (the run is terminal). */
  take(runId: string, end: boolean): string | undefined {
    const id = this.ids.get(runId);
    if (end && id !== undefined) this.ids.delete(runId);
    return id;
  }
  /** How many runs are remembered (tests, memory accounting). */
  get size(): number {
    return this.ids.size;
  }
}

type OpsLevel = 'debug' | 'info' | 'error';

/**
 * Writes the request and run lines. They are flat objects of our own scalar fields, so the
 * line is built here as text (each string value through `JSON.stringify`) and handed to the
 * host logger's own destination, with its bindings and its `streamWrite` hook — the host's one
 * redactor, which every line passes (`createLogger`). This skips what pino spends per call on
 * a generic object: the walk for credential paths (`req.headers.authorization`, `*.apiKey`…,
 * which these lines never carry), per-key serialiser lookups and a second stringification.
 * The text is exactly what `logger[level](fields, msg)` would write. A logger without pino's
 * internals (another implementation) gets the plain call.
 */
export class OpsLines {
  private readonly stream: { write(line: string): unknown } | undefined;
  private readonly bindings: string;
  private readonly hook: ((line: string) => string) | undefined;
  constructor(private readonly logger: Logger) {
    const l = logger as unknown as Record<symbol, unknown>;
    const stream = l[pino.symbols.streamSym] as { write?: unknown } | undefined;
    const bindings = l[pino.symbols.chindingsSym];
    const hooks = l[Symbol.for('pino.hooks')] as { streamWrite?: (line: string) => string } | undefined;
    const plain = typeof stream?.write === 'function' && typeof bindings === 'string';
    this.stream = plain ? (stream as { write(line: string): unknown }) : undefined;
    this.bindings = plain ? (bindings as string) : '';
    this.hook = hooks?.streamWrite;
  }
  /** Whether a line at `level` would be written. */
  enabled(level: OpsLevel): boolean {
    return this.logger.isLevelEnabled(level);
  }
  /** Writes `{"level":…,"time":…<bindings>,<fields>,"msg":<msg>}`; `fields` is JSON object members. */
  write(level: OpsLevel, fields: string, msg: string): void {
    if (!this.stream) {
      this.logger[level](JSON.parse(`{${fields}}`) as Record<string, unknown>, msg);
      return;
    }
    const line = `{"level":${this.logger.levels.values[level]},"time":${Date.now()}${this.bindings},${fields},"msg":${JSON.stringify(msg)}}\n`;
    this.stream.write(this.hook ? this.hook(line) : line);
  }
}

const str = JSON.stringify;

/**
 * Installs the request line: the first `onRequest` hook (so refusals are logged too) attaches
 * one `close` listener to the response.
 */
export function installRequestLog(app: FastifyInstance, hostLogger: Logger): void {
  const logger = new OpsLines(hostLogger);
  app.decorateReply('weftErrorCode', null);
  app.addHook('onRequest', (req, reply, done) => {
    reply.raw.once('close', () => logRequest(logger, req, reply));
    done();
  });
}

function logRequest(logger: OpsLines, req: FastifyRequest, reply: FastifyReply): void {
  const route = req.routeOptions.url;
  const status = reply.raw.statusCode;
  const level: OpsLevel = status >= 500 ? 'error' : route !== undefined && QUIET_ROUTES.has(route) ? 'debug' : 'info';
  if (!logger.enabled(level)) return;
  let line = `"kind":"request","method":${str(req.method)},"route":${route === undefined ? 'null' : str(route)},"status":${status},"durationMs":${Math.round(reply.elapsedTime * 100) / 100},"reqId":${str(req.id)},"correlationId":${str(correlationOf(req))}`;
  const tenant = req.principal?.tenant;
  if (tenant !== undefined) line += `,"tenant":${str(tenant)}`;
  const runId = (req.params as { runId?: unknown } | undefined)?.runId;
  if (typeof runId === 'string' && runId.length <= 128) line += `,"runId":${str(runId)}`;
  if (reply.weftErrorCode !== null) line += `,"errorCode":${str(reply.weftErrorCode)}`;
  if (!reply.raw.writableFinished) line += ',"aborted":true';
  logger.write(level, line, 'request');
}

/** The run status a transition event moves the run to (the events that get a run line). */
const TRANSITIONS: Readonly<Record<string, string>> = {
  'run.started': 'running',
  'run.completed': 'completed',
  'run.failed': 'failed',
  'run.cancelled': 'cancelled',
  'run.paused': 'paused',
  'run.resumed': 'running',
  'node.suspended': 'waiting',
};
const TERMINAL = new Set(['run.completed', 'run.failed', 'run.cancelled']);

/** The `error.code` of a failure or cancellation event (parsed only for those, which are rare). */
function errorCodeOf(json: string): string | undefined {
  try {
    const doc = JSON.parse(json) as { error?: { code?: unknown }; payload?: { error?: { code?: unknown } } };
    const code = doc.payload?.error?.code ?? doc.error?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The run-transition logger, as an `EngineOptions.committed` listener: one line per transition
 * event in the committed batch (a noop run's one append gives `running` and `completed`).
 */
export function runTransitionLogger(hostLogger: Logger, correlations: RunCorrelations): (run: RunRecord, events: readonly EncodedEvent[]) => void {
  const logger = new OpsLines(hostLogger);
  return (run, events) => {
    for (const e of events) {
      const status = TRANSITIONS[e.type];
      if (status === undefined) continue;
      const terminal = TERMINAL.has(e.type);
      const level: OpsLevel = e.type === 'run.failed' ? 'error' : 'info';
      const correlationId = correlations.take(run.runId, terminal) ?? traceIdOf(run);
      if (!logger.enabled(level)) continue;
      let line = `"kind":"run","event":${str(e.type)},"runId":${str(run.runId)},"tenant":${str(run.tenant)},"workflowId":${str(run.workflowId)},"status":"${status}","sequence":${e.sequence}`;
      if (e.nodeId !== undefined) line += `,"nodeId":${str(e.nodeId)}`;
      if (e.type === 'run.failed' || e.type === 'run.cancelled') {
        const code = errorCodeOf(e.json);
        if (code !== undefined) line += `,"errorCode":${str(code)}`;
      }
      if (correlationId !== undefined) line += `,"correlationId":${str(correlationId)}`;
      logger.write(level, line, 'run');
    }
  };
}

function traceIdOf(run: RunRecord): string | undefined {
  const tp = run.traceContext?.traceparent;
  return tp === undefined ? undefined : TRACEPARENT.exec(tp)?.[1];
}
