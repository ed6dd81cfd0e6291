/**
 * A pool of warm sandbox workers. Each worker loads the QuickJS WebAssembly module once and
 * runs one invocation at a time; invocations queue for a free worker. The host thread holds the
 * hard wall-clock limit: a worker that has not answered by the deadline (plus a grace period for
 * the worker's own, softer deadline) is terminated, the invocation fails with `sandbox_timeout`,
 * and a fresh worker takes its place. A worker that breached a limit, crashed, ran out of its
 * V8 heap or could not clean up is replaced the same way, so the next call never meets its state.
 */
import { Worker } from 'node:worker_threads';
import type {
  BridgeHttpRequest,
  BridgeHttpResponse,
  FromWorker,
  InvocationInput,
  InvocationLimits,
  PackSources,
  SandboxFailure,
  ToWorker,
} from './protocol.js';

/** What one invocation needs besides its input. */
export interface PoolTask {
  pack: PackSources;
  input: InvocationInput;
  limits: InvocationLimits;
  http: boolean;
  /** Sends a bridged HTTP call through the host's Outbound. */
  onHttp?: (req: BridgeHttpRequest) => Promise<BridgeHttpResponse>;
  signal?: AbortSignal;
}

/** How an invocation ended. */
export type PoolResult = { ok: true; outcome: string } | { ok: false; error: SandboxFailure };

/** Pool settings. */
export interface PoolOptions {
  /** Workers kept warm (≥ 1). */
  size: number;
  /** The worker script. */
  workerUrl: URL;
  /** Extra wall-clock allowance (ms) past the invocation limit before the worker is terminated. */
  graceMs?: number;
  /** V8 heap of each worker (MB); QuickJS's own heap is capped separately, per invocation. */
  workerHeapMb?: number;
}

interface Slot {
  worker: Worker;
  known: Set<string>;
  ready: boolean;
  task?: Running;
  dead: boolean;
}

interface Running {
  id: number;
  task: PoolTask;
  resolve(r: PoolResult): void;
  timer?: NodeJS.Timeout;
  onAbort?: () => void;
}

/** The pool of sandbox workers (see the module comment). */
export class SandboxPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Running[] = [];
  private nextId = 1;
  private closed = false;
  /** Workers replaced after a breach or crash (observability, tests). */
  recycled = 0;

  constructor(private readonly opts: PoolOptions) {
    for (let i = 0; i < Math.max(1, opts.size); i++) this.slots.push(this.spawn());
  }

  /** Resolves once every worker has loaded QuickJS and is warm. */
  async warm(deadlineMs = 30_000): Promise<void> {
    const until = Date.now() + deadlineMs;
    while (this.slots.some((s) => !s.ready)) {
      if (Date.now() > until) throw new Error('sandbox workers did not start in time');
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Runs one invocation; never rejects (failures are results). */
  run(task: PoolTask): Promise<PoolResult> {
    if (this.closed) return Promise.resolve({ ok: false, error: { code: 'sandbox_failed', message: 'The sandbox is shut down.' } });
    if (task.signal?.aborted) return Promise.resolve({ ok: false, error: { code: 'sandbox_cancelled', message: 'The node was cancelled.' } });
    return new Promise<PoolResult>((resolve) => {
      const r: Running = { id: this.nextId++, task, resolve };
      this.queue.push(r);
      if (task.signal) {
        r.onAbort = () => this.abort(r);
        task.signal.addEventListener('abort', r.onAbort, { once: true });
      }
      this.dispatch();
    });
  }

  /** Terminates every worker; queued invocations fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const r of this.queue.splice(0)) this.finish(r, { ok: false, error: { code: 'sandbox_failed', message: 'The sandbox is shut down.' } });
    await Promise.all(
      this.slots.map(async (s) => {
        s.dead = true;
        if (s.task) this.finish(s.task, { ok: false, error: { code: 'sandbox_failed', message: 'The sandbox is shut down.' } });
        await s.worker.terminate();
      }),
    );
  }

  private spawn(): Slot {
    const worker = new Worker(this.opts.workerUrl, {
      // No environment, arguments or inspector flags of the host reach the worker.
      env: {},
      argv: [],
      execArgv: [],
      stdin: false,
      resourceLimits: { maxOldGenerationSizeMb: this.opts.workerHeapMb ?? 64, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
    });
    worker.unref();
    const slot: Slot = { worker, known: new Set(), ready: false, dead: false };
    worker.on('message', (m: FromWorker) => this.onMessage(slot, m));
    worker.on('error', (e: Error & { code?: string }) => {
      const memory = e.code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.replace(slot, {
        code: memory ? 'sandbox_memory_exceeded' : 'sandbox_failed',
        message: memory ? 'The pack node exhausted the sandbox worker heap.' : 'The sandbox worker failed.',
        ...(memory ? { details: { kind: 'worker-heap' } } : {}),
      });
    });
    worker.on('exit', () => {
      if (!slot.dead) this.replace(slot, { code: 'sandbox_failed', message: 'The sandbox worker exited.' });
    });
    return slot;
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    if (m.t === 'ready') {
      slot.ready = true;
      this.dispatch();
      return;
    }
    const r = slot.task;
    if (!r || r.id !== m.id) return;
    if (m.t === 'http') {
      const reply = (msg: ToWorker): void => {
        if (slot.task === r && !slot.dead) slot.worker.postMessage(msg);
      };
      const onHttp = r.task.onHttp;
      if (!onHttp) {
        reply({ t: 'http-result', id: m.id, call: m.call, ok: false, error: { code: 'sandbox_capability_denied', message: 'Outbound HTTP is not granted.' } });
        return;
      }
      onHttp(m.request).then(
        (response) => reply({ t: 'http-result', id: m.id, call: m.call, ok: true, response }),
        (e: unknown) => reply({ t: 'http-result', id: m.id, call: m.call, ok: false, error: failureOf(e) }),
      );
      return;
    }
    slot.task = undefined;
    this.finish(r, m.ok ? { ok: true, outcome: m.outcome } : { ok: false, error: m.error });
    if (m.recycle) this.replace(slot);
    else this.dispatch();
  }

  private dispatch(): void {
    if (this.closed) return;
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (!slot.ready || slot.task || slot.dead) continue;
      const r = this.queue.shift() as Running;
      slot.task = r;
      const { pack } = r.task;
      const msg: ToWorker = {
        t: 'run',
        id: r.id,
        pack: slot.known.has(pack.key) ? { key: pack.key } : { key: pack.key, sources: pack },
        input: r.task.input,
        limits: r.task.limits,
        http: r.task.http,
      };
      slot.known.add(pack.key);
      const sentAt = Date.now();
      r.timer = setTimeout(
        () => {
          if (slot.task !== r) return;
          this.replace(slot, {
            code: 'sandbox_timeout',
            message: `The pack node exceeded its ${r.task.limits.timeoutMs} ms limit.`,
            // elapsedMs: how long the worker had it when it was terminated (the host thread's clock).
            details: { limitMs: r.task.limits.timeoutMs, reason: 'terminated', elapsedMs: Date.now() - sentAt },
          });
        },
        r.task.limits.timeoutMs + (this.opts.graceMs ?? 1000),
      );
      r.timer.unref();
      slot.worker.postMessage(msg);
    }
  }

  /** Cancels an invocation: dequeued, or its worker terminated. */
  private abort(r: Running): void {
    const i = this.queue.indexOf(r);
    if (i >= 0) {
      this.queue.splice(i, 1);
      this.finish(r, { ok: false, error: { code: 'sandbox_cancelled', message: 'The node was cancelled.' } });
      return;
    }
    const slot = this.slots.find((s) => s.task === r);
    if (slot) this.replace(slot, { code: 'sandbox_cancelled', message: 'The node was cancelled.' });
  }

  /** Terminates a worker (failing its invocation with `failure`) and starts a fresh one in its place. */
  private replace(slot: Slot, failure?: SandboxFailure): void {
    if (slot.dead) return;
    slot.dead = true;
    const r = slot.task;
    slot.task = undefined;
    if (r) this.finish(r, { ok: false, error: failure ?? { code: 'sandbox_failed', message: 'The sandbox worker failed.' } });
    void slot.worker.terminate();
    const i = this.slots.indexOf(slot);
    if (i >= 0 && !this.closed) {
      this.recycled++;
      this.slots[i] = this.spawn();
    }
    this.dispatch();
  }

  private finish(r: Running, result: PoolResult): void {
    if (r.timer) clearTimeout(r.timer);
    if (r.onAbort) r.task.signal?.removeEventListener('abort', r.onAbort);
    r.resolve(result);
  }
}

/** A bridged call's failure as the worker receives it. */
function failureOf(e: unknown): SandboxFailure {
  const f = e as { code?: unknown; message?: unknown; details?: unknown };
  const out: SandboxFailure = {
    code: typeof f?.code === 'string' ? f.code : 'fetch_failed',
    message: typeof f?.message === 'string' ? f.message.slice(0, 2048) : 'The HTTP call failed.',
  };
  if (f?.details && typeof f.details === 'object') out.details = f.details as Record<string, unknown>;
  return out;
}
