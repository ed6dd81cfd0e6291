/**
 * Event delivery: SSE (`GET /v1/runs/{runId}/events`) and polling (`…/events/poll`).
 *
 * Both subscribe to the live bus *before* reading the backlog from the store, then drop
 * repeats by sequence, so an event appended while a client connects is neither lost nor sent
 * twice. Event JSON is sent exactly as stored.
 *
 * @see wire-contract.md §3.5, §3.6
 */
import { ROUTE_SCHEMAS, STREAM_MODES, TERMINAL_EVENT_TYPES, TERMINAL_STATUSES, UPDATES_EVENT_TYPES, WeftError, type StreamMode } from '@weft/contract';
import type { EncodedEvent, RunProjection, RunRecord, StoredWorkflow } from '@weft/engine';
import type { FastifyReply } from 'fastify';
import type { WeftApp } from '../app.js';
import { pathId, principalOf, type HostContext } from '../context.js';
import { toSnapshot } from '../snapshot.js';
import { missingRun } from './runs.js';

const PAGE = 1000;
const MAX_BUFFER_MS = 5000;

/** Parses and validates `streamMode` (single mode or comma list; `values` is exclusive). */
export function parseStreamModes(raw: string | undefined): Set<StreamMode> {
  const supported = [...STREAM_MODES];
  const parts = (raw ?? 'updates').split(',').map((s) => s.trim());
  const bad = (message: string): WeftError => new WeftError('unsupported_stream_mode', message, { supported });
  if (parts.some((m) => !(STREAM_MODES as readonly string[]).includes(m))) throw bad('streamMode must be one or more of updates, values, messages, debug.');
  const modes = new Set(parts as StreamMode[]);
  if (modes.has('values') && modes.size > 1) throw bad('The values stream mode cannot be combined with other modes.');
  return modes;
}

function parseBufferMs(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isInteger(n) || n > MAX_BUFFER_MS) {
    throw new WeftError('validation_error', `bufferMs must be an integer between 0 and ${MAX_BUFFER_MS}.`, {
      bufferMs: raw.slice(0, 32),
      min: 0,
      max: MAX_BUFFER_MS,
    });
  }
  return n;
}

function parseCursor(raw: string | undefined, name: string): number {
  if (raw === undefined || raw === '') return -1;
  if (!/^-?\d+$/.test(raw))
    throw new WeftError('validation_error', `${name} must be an integer ≥ -1.`, { errors: [{ path: `/${name}`, message: 'not an integer' }] });
  const n = Number(raw);
  if (n < -1 || !Number.isSafeInteger(n))
    throw new WeftError('validation_error', `${name} must be an integer ≥ -1.`, { errors: [{ path: `/${name}`, message: 'out of range' }] });
  return n;
}

/** True when an event type passes the mode filter (values handled separately). */
function passes(modes: Set<StreamMode>, type: string): boolean {
  if (modes.has('debug')) return true;
  if (modes.has('updates') && UPDATES_EVENT_TYPES.has(type)) return true;
  if (modes.has('messages') && type === 'ai.message.chunk') return true;
  return false;
}

/**
 * The `messages` stream mode's frame for a streamed token: a persisted `output.chunk` shown as
 * `ai.message.chunk` (wire-contract §3: payload = the output chunk plus `runId`), same sequence.
 */
export function messageChunk(e: EncodedEvent): string | undefined {
  if (e.type !== 'output.chunk') return undefined;
  const doc = JSON.parse(e.json) as { runId: string; eventId: string; payload: Record<string, unknown> } & Record<string, unknown>;
  return JSON.stringify({ ...doc, eventId: `${doc.eventId}.message`, type: 'ai.message.chunk', payload: { ...doc.payload, runId: doc.runId } });
}

async function readAll(ctx: HostContext, runId: string, after: number): Promise<EncodedEvent[]> {
  const out: EncodedEvent[] = [];
  for (let cur = after; ; ) {
    const page = await ctx.store.readEvents(runId, cur, PAGE);
    out.push(...page);
    if (page.length < PAGE) return out;
    cur = page[page.length - 1]?.sequence ?? cur;
  }
}

/** Events read from the store per page when an SSE stream catches up (backlog, or after a slow reader drained). */
export const SSE_PAGE = 100;

/**
 * One SSE connection, written with backpressure.
 *
 * The stream is fed two ways: live events from the in-process bus while it keeps up, and pages
 * read from the store (the *pump*) whenever it is behind — on connect (the backlog after
 * `Last-Event-ID`), and whenever the socket refused more (`res.write()` returned false) until it
 * emits `drain`. Live events arriving while the pump runs or the socket is blocked are not
 * held: they are in the store already (the bus publishes after the commit), and the pump reads
 * them in order once the reader caught up. So a slow or paused reader costs at most one page
 * plus one live batch of buffered frames, never the run's whole log, and the backlog is never
 * loaded whole. Every event is written once, in sequence order (`lastSent` is the last
 * sequence handed to the socket; a live batch that does not continue it goes to the pump).
 * The `values` mode sends snapshots, not events: behind, it coalesces to one fresh snapshot.
 */
class SseSession {
  private lastSent: number;
  private queue: { id: number; event: string; data: string }[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The store pump is running (first: the backlog). */
  private pumping = false;
  /** The socket refused a write and has not drained yet. */
  private blocked = false;
  /** Highest sequence published live (the pump reads until it has sent at least this). */
  private seenMax = -1;
  /** Whether the first pump (the backlog) has finished. */
  private caughtUp = false;
  /** The response is corked (from the head until the first backlog page is written). */
  private corked = false;
  /** The run's last sequence when it had ended already at connect (a resume past it closes at once). */
  private readonly endedAt: number | undefined;
  private readonly runId: string;
  /** The run as read at connect, kept only for `values` snapshots (a stream holds no run record otherwise). */
  private readonly base: RunRecord | undefined;

  constructor(
    private readonly ctx: HostContext,
    private readonly reply: FastifyReply,
    rec: RunRecord,
    private readonly modes: Set<StreamMode>,
    private readonly bufferMs: number,
    private readonly wf: StoredWorkflow | undefined,
    after: number,
    private readonly onClose: () => void,
    private readonly onError: (e: unknown) => void,
  ) {
    this.lastSent = after;
    this.runId = rec.runId;
    this.base = modes.has('values') ? rec : undefined;
    this.endedAt = TERMINAL_STATUSES.has(rec.projection.status) ? rec.projection.lastSequence : undefined;
  }

  start(): void {
    const raw = this.reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // Corked until the first page of the backlog is written: the head, the comment and a short
    // run's whole log (often to its terminal event) leave in one write.
    raw.cork();
    this.corked = true;
    this.write(': connected\n\n');
    raw.on('drain', () => {
      this.blocked = false;
    });
    raw.on('close', () => this.close(false));
  }

  /** The keepalive comment (on the routes' one shared timer); none while blocked — the socket has bytes to deliver already. */
  keepalive(): void {
    if (!this.closed && !this.blocked) this.write(': keepalive\n\n');
  }

  /** Bytes this stream has handed to Node and the socket has not taken yet (tests, gauges). */
  get bufferedBytes(): number {
    return this.reply.raw.writableLength;
  }

  /** A live batch from the bus: written at once when the stream is caught up and writable, else left to the pump. */
  onLive(events: readonly EncodedEvent[], projection: RunProjection): void {
    if (this.closed || events.length === 0) return;
    const last = (events[events.length - 1] as EncodedEvent).sequence;
    if (last > this.seenMax) this.seenMax = last;
    if (this.pumping || this.blocked || (events[0] as EncodedEvent).sequence > this.lastSent + 1) {
      this.pump();
      return;
    }
    this.deliver(events, projection);
  }

  /** Starts the backlog: events after `Last-Event-ID`, page by page. */
  backlog(): void {
    this.pump();
  }

  /** Runs the store pump unless it runs already. */
  private pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    this.pumpPages().catch((e: unknown) => {
      this.pumping = false;
      this.onError(e);
      this.close(true);
    });
  }

  private async pumpPages(): Promise<void> {
    for (;;) {
      if (this.closed) return;
      if (this.blocked) {
        this.uncork();
        await this.drained();
        continue;
      }
      if (this.modes.has('values')) {
        await this.pushFreshSnapshot();
        if (this.closed || this.seenMax <= this.lastSent) break;
        continue;
      }
      const page = await this.ctx.store.readEvents(this.runId, this.lastSent, SSE_PAGE);
      if (this.closed) return;
      this.deliver(page, undefined);
      this.flush();
      // The head, the comment and the first page (a short run's whole log) left in one write.
      this.uncork();
      if (this.closed) return;
      if (page.length === SSE_PAGE || this.seenMax > this.lastSent) continue;
      break;
    }
    // Caught up, synchronously after the last read: live batches from here on are written
    // directly (one arriving during the check below is not missed).
    this.pumping = false;
    if (!this.caughtUp) {
      this.caughtUp = true;
      this.uncork();
      // A resumed stream past the terminal event: done. No second read of the run — one that
      // ended after the route read it has its terminal event in the backlog or in a live
      // delivery (subscribed before that read), and either closed the stream already.
      if (!this.closed && this.endedAt !== undefined && this.lastSent >= this.endedAt) this.close(true);
    }
  }

  /** `values` mode, first connect, resume or after a blocked socket drained: one snapshot of now. */
  private async pushFreshSnapshot(): Promise<void> {
    const r = (await this.ctx.store.getRunInternal(this.runId)) ?? this.base;
    if (this.closed || !r) return;
    const seq = Math.max(r.projection.lastSequence, this.lastSent);
    this.pushSnapshot(r, seq);
    this.lastSent = Math.max(this.lastSent, seq);
    if (TERMINAL_STATUSES.has(r.projection.status)) return this.close(true);
    this.flush();
  }

  /** Resolves once the socket drained or closed. */
  private drained(): Promise<void> {
    const raw = this.reply.raw;
    return new Promise((resolve) => {
      if (!this.blocked || raw.destroyed) return resolve();
      const done = (): void => {
        raw.off('drain', done);
        raw.off('close', done);
        resolve();
      };
      raw.on('drain', done);
      raw.on('close', done);
    });
  }

  /** Frames for `events` after `lastSent`; live batches carry the projection `values` snapshots need. */
  private deliver(events: readonly EncodedEvent[], projection: RunProjection | undefined): void {
    let terminal = false;
    let snapshotAt = -1;
    for (const e of events) {
      if (e.sequence <= this.lastSent) continue;
      this.lastSent = e.sequence;
      if (TERMINAL_EVENT_TYPES.has(e.type)) terminal = true;
      if (this.modes.has('values')) {
        if (UPDATES_EVENT_TYPES.has(e.type)) snapshotAt = e.sequence;
        continue;
      }
      if (passes(this.modes, e.type)) this.queue.push({ id: e.sequence, event: e.type, data: e.json });
      const message = this.modes.has('messages') ? messageChunk(e) : undefined;
      if (message) this.queue.push({ id: e.sequence, event: 'ai.message.chunk', data: message });
      if (e.type === 'node.suspended') this.flush();
    }
    if (snapshotAt >= 0 && projection && this.base) this.pushSnapshot({ ...this.base, projection }, snapshotAt);
    if (terminal) this.close(true);
    else this.flushIfUnbuffered();
  }

  private pushSnapshot(rec: RunRecord, seq: number): void {
    const doc = {
      eventId: `${rec.runId}.${seq}.snapshot`,
      runId: rec.runId,
      type: 'state.snapshot',
      payload: toSnapshot(rec, this.wf),
      timestamp: new Date().toISOString(),
      sequence: Math.max(0, seq),
    };
    this.queue.push({ id: Math.max(0, seq), event: 'state.snapshot', data: JSON.stringify(doc) });
  }

  private flushIfUnbuffered(): void {
    if (this.bufferMs === 0) this.flush();
    else if (this.queue.length > 0 && !this.flushTimer) this.flushTimer = setTimeout(() => this.flush(), this.bufferMs);
  }

  /** Writes to the socket; a refused write marks the stream blocked until `drain`. */
  private write(chunk: string): void {
    if (!this.reply.raw.write(chunk)) this.blocked = true;
  }

  private flush(): void {
    const out = this.takeFrames();
    if (out) this.write(out);
  }

  /** Releases the corked head (once). */
  private uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.reply.raw.uncork();
  }

  /** The queued frames as one string ('' when none or the response has ended). */
  private takeFrames(): string {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.queue.length === 0 || this.reply.raw.writableEnded) return '';
    const frames = this.queue.splice(0);
    if (this.bufferMs > 0) {
      const id = frames[frames.length - 1]?.id ?? 0;
      return `id: ${id}\nevent: batch\ndata: [${frames.map((f) => f.data).join(',')}]\n\n`;
    }
    let out = '';
    for (const f of frames) out += `id: ${f.id}\nevent: ${f.event}\ndata: ${f.data}\n\n`;
    return out;
  }

  close(end: boolean): void {
    if (this.closed) return;
    this.closed = true;
    // Ending: the last frames and the end of the response leave in one write.
    const last = this.takeFrames();
    if (!end && last) this.write(last);
    this.uncork();
    this.onClose();
    if (end && !this.reply.raw.writableEnded) {
      if (last) this.reply.raw.end(last);
      else this.reply.raw.end();
    }
  }

  /**
   * Host shutdown: ends the stream after everything already sent, and closes the connection
   * so the client reconnects (with `Last-Event-ID`) to another instance instead of reusing a
   * socket to a host that is going away.
   */
  shutdown(): void {
    const raw = this.reply.raw;
    if (raw.socket && !raw.socket.destroyed && !raw.writableEnded) raw.once('finish', () => raw.socket?.end());
    this.close(true);
  }
}

/**
 * A woken long-poll's answer from what the bus published, when that is provably what the store
 * holds: the events continue `cursor` without a gap, fit one page, end at the projection's last
 * sequence, and the projection is terminal (so nothing can follow them and the status is final —
 * a cancel request no longer changes it).
 */
export function fromBus(
  d: { events: readonly EncodedEvent[]; projection: RunProjection },
  cursor: number,
  rec: RunRecord,
): { rec: RunRecord; events: EncodedEvent[] } | undefined {
  if (!TERMINAL_STATUSES.has(d.projection.status)) return undefined;
  const events = d.events.filter((e) => e.sequence > cursor);
  if (events.length === 0 || events.length >= PAGE) return undefined;
  for (let i = 0; i < events.length; i++) if ((events[i] as EncodedEvent).sequence !== cursor + 1 + i) return undefined;
  // …and reach the projection's last event (a relayed projection may be read after its events).
  if ((events[events.length - 1] as EncodedEvent).sequence !== d.projection.lastSequence) return undefined;
  return { rec: { ...rec, projection: d.projection }, events };
}

/** The poll body (the union of the shapes different documents require). */
function pollBody(runId: string, events: EncodedEvent[], cursor: number, rec: RunRecord, complete: boolean): string {
  const last = events.length > 0 ? (events[events.length - 1]?.sequence ?? cursor) : cursor;
  const status = rec.cancelRequested && !TERMINAL_STATUSES.has(rec.projection.status) ? 'cancelling' : rec.projection.status;
  const terminal = TERMINAL_STATUSES.has(rec.projection.status);
  return `{"runId":${JSON.stringify(runId)},"events":[${events.map((e) => e.json).join(',')}],"lastEventSeq":${last},"runStatus":${JSON.stringify(status)},"isTerminal":${terminal},"isComplete":${terminal && complete}}`;
}

/**
 * Registers the SSE and poll routes. On `app.close()` (the `preClose` hook, before the server
 * stops), open SSE streams end cleanly and waiting long-polls answer with what they have.
 */
export function registerEventRoutes(app: WeftApp, ctx: HostContext): void {
  const { store, engine } = ctx;
  const sessions = new Set<SseSession>();
  const waitingPolls = new Set<() => void>();
  let closing = false;
  // One keepalive timer for every open stream (not one per stream: 10,000 streams would be
  // 10,000 timers), running only while a stream is open.
  let keepalive: NodeJS.Timeout | undefined;
  const opened = (s: SseSession): void => {
    sessions.add(s);
    keepalive ??= setInterval(() => {
      for (const x of sessions) x.keepalive();
    }, ctx.config.sseKeepaliveMs);
  };
  const closed = (s: SseSession): void => {
    sessions.delete(s);
    if (sessions.size === 0 && keepalive) {
      clearInterval(keepalive);
      keepalive = undefined;
    }
  };
  app.addHook('preClose', async () => {
    closing = true;
    for (const s of [...sessions]) s.shutdown();
    for (const wake of [...waitingPolls]) wake();
  });

  app.get('/v1/runs/:runId/events', { config: { scope: 'runs:read' }, schema: ROUTE_SCHEMAS['GET /v1/runs/:runId/events'] }, async (req, reply) => {
    const p = principalOf(req);
    const runId = pathId(req.params.runId, 'runId');
    const q = req.query;
    const modes = parseStreamModes(q.streamMode);
    const bufferMs = parseBufferMs(q.bufferMs);
    const accept = String(req.headers.accept ?? '');
    const wantsJson = accept.includes('application/json') && !accept.includes('text/event-stream');
    const lastIdRaw = req.headers['last-event-id'];
    const lastId = parseCursor(Array.isArray(lastIdRaw) ? lastIdRaw[0] : lastIdRaw, 'Last-Event-ID');

    if (wantsJson || req.method === 'HEAD') {
      const rec = await store.getRun(p.tenant, runId);
      if (!rec) throw await missingRun(store, p.tenant, runId);
      // HEAD: the headers of the stream, without opening (and holding) one.
      if (!wantsJson) return reply.header('cache-control', 'no-cache, no-transform').type('text/event-stream; charset=utf-8').send();
      const events = (await readAll(ctx, runId, lastId)).flatMap((e): EncodedEvent[] => {
        const message = modes.has('messages') ? messageChunk(e) : undefined;
        const own = modes.has('values') || passes(modes, e.type) ? [e] : [];
        return message ? [...own, { sequence: e.sequence, type: 'ai.message.chunk', json: message }] : own;
      });
      return reply.type('application/json').send(pollBody(runId, events, lastId, rec, true));
    }

    // Subscribed before the run is read; events published before the session exists are
    // committed already, so the backlog pump (which reads the store after) sends them.
    let session: SseSession | undefined;
    const unsubscribe = engine.bus.subscribe(runId, (events, projection) => session?.onLive(events, projection));
    let rec: RunRecord | undefined;
    try {
      rec = await store.getRun(p.tenant, runId);
    } catch (e) {
      unsubscribe();
      throw e;
    }
    if (!rec) {
      unsubscribe();
      throw await missingRun(store, p.tenant, runId);
    }
    const wf = modes.has('values') ? await ctx.engine.catalog.byContentHash(rec.workflowHash) : undefined;
    reply.hijack();
    const live: SseSession = new SseSession(
      ctx,
      reply,
      rec,
      modes,
      bufferMs,
      wf,
      lastId,
      () => {
        closed(live);
        unsubscribe();
      },
      (e) => req.log.error({ err: e instanceof Error ? e.message : String(e), runId }, 'SSE backlog failed'),
    );
    session = live;
    opened(live);
    session.start();
    if (closing) session.shutdown();
    session.backlog();
    return reply;
  });

  app.get('/v1/runs/:runId/events/poll', { config: { scope: 'runs:read' }, schema: ROUTE_SCHEMAS['GET /v1/runs/:runId/events/poll'] }, async (req, reply) => {
    const p = principalOf(req);
    const runId = pathId(req.params.runId, 'runId');
    const q = req.query;
    const cursor = parseCursor(q.lastSequence ?? q.since, q.lastSequence !== undefined ? 'lastSequence' : 'since');
    let timeoutS = 30;
    if (q.timeout !== undefined) {
      timeoutS = Number(q.timeout);
      if (!/^\d+$/.test(q.timeout) || timeoutS > 60)
        throw new WeftError('validation_error', 'timeout must be an integer number of seconds between 0 and 60.', {
          errors: [{ path: '/timeout', message: 'out of range' }],
        });
    }
    // An event published between our reads and the wait must still end the wait.
    let published = false;
    let woke: (() => void) | undefined;
    // What the bus delivered (committed events, as stored) — usually the whole answer of a wait.
    let delivered: { events: readonly EncodedEvent[]; projection: RunProjection } | undefined;
    const unsubscribe = engine.bus.subscribe(runId, (events, projection) => {
      delivered = delivered ? { events: [...delivered.events, ...events], projection } : { events, projection };
      published = true;
      woke?.();
    });
    try {
      let rec = await store.getRun(p.tenant, runId);
      if (!rec) throw await missingRun(store, p.tenant, runId);
      let events = await store.readEvents(runId, cursor, PAGE);
      // HEAD answers at once (headers only); so does a poll arriving while the host closes.
      const wait = req.method !== 'HEAD' && !closing && timeoutS > 0;
      if (events.length === 0 && !TERMINAL_STATUSES.has(rec.projection.status) && wait) {
        if (!published) {
          await new Promise<void>((resolve) => {
            // Ends the wait once: a new event, the timeout, the client leaving, or shutdown.
            const done = (): void => {
              clearTimeout(t);
              waitingPolls.delete(done);
              req.raw.off('close', done);
              resolve();
            };
            const t = setTimeout(done, timeoutS * 1000);
            woke = done;
            waitingPolls.add(done);
            req.raw.once('close', done);
          });
        }
        const fresh = delivered && fromBus(delivered, cursor, rec);
        if (fresh) {
          // The published events continue the cursor and end the run: they are exactly what the
          // store would return now (a terminal run appends nothing more), so no second read.
          rec = fresh.rec;
          events = fresh.events;
        } else {
          rec = (await store.getRun(p.tenant, runId)) ?? rec;
          events = await store.readEvents(runId, cursor, PAGE);
        }
      }
      const complete = events.length < PAGE;
      return reply.type('application/json').send(pollBody(runId, events, cursor, rec, complete));
    } finally {
      unsubscribe();
    }
  });
}
