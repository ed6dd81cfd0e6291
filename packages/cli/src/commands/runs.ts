/**
 * `weft runs start|get|cancel|list|events|pause|resume|fork`.
 *
 * @see wire-contract.md §1.1 (#4–#9), §3.5, §3.6
 */
import type { Command } from 'commander';
import type { RunEventDoc, RunStatus } from '@weft/contract';
import { WeftApiError, type CreateRunBody, type ForkRunRequest, type RunSnapshot, type WeftClient } from '@weft/sdk';
import { colorsFor, type CliContext, type Colors } from '../cli-io.js';
import { clientFor, type GlobalOptions } from '../connection.js';
import { CliError } from '../errors.js';
import { formatEventLine } from '../event-format.js';
import { buildObject, collect, parsePositiveInt } from '../input-parsing.js';
import { createInterruptWatcher, formatInterruptPrompt, formatRunControlResult, type InterruptInfo } from '../interrupt-format.js';
import { EXIT_CODES, exitCodeForStatus, formatFinalStatus, formatRunList, formatSnapshot, paintStatus } from '../run-format.js';

/** Stream mode of `--watch` and `--follow`: everything, so node starts are visible too. */
const DEFAULT_STREAM_MODE = 'debug';

interface StartOptions {
  input?: string[];
  inputsJson?: string;
  config?: string[];
  configJson?: string;
  tag?: string[];
  callbackUrl?: string;
  idempotencyKey?: string;
  watch?: boolean;
  streamMode: string;
}

interface EventsOptions {
  follow?: boolean;
  after?: string;
  streamMode: string;
}

/** Builds the `POST /v1/runs` body from the `start` flags. */
export function createRunBody(
  workflowId: string,
  opts: Pick<StartOptions, 'input' | 'inputsJson' | 'config' | 'configJson' | 'tag' | 'callbackUrl'>,
): CreateRunBody {
  const body: CreateRunBody = { workflowId };
  const inputs = buildObject(opts.input, opts.inputsJson, '--input', '--inputs-json');
  const configurable = buildObject(opts.config, opts.configJson, '--config', '--config-json');
  if (inputs) body.inputs = inputs;
  if (configurable) body.configurable = configurable;
  if (opts.tag && opts.tag.length > 0) body.tags = opts.tag;
  if (opts.callbackUrl !== undefined) body.callbackUrl = opts.callbackUrl;
  return body;
}

interface ForkOptions {
  mode: string;
  fromSeq?: string;
  config?: string[];
  configJson?: string;
  tag?: string[];
  idempotencyKey?: string;
  watch?: boolean;
  streamMode: string;
}

/** Builds the `POST /v1/runs/{runId}:fork` body from the `fork` flags (the overlay is branch-only). */
export function forkRunBody(opts: Pick<ForkOptions, 'mode' | 'fromSeq' | 'config' | 'configJson' | 'tag'>): ForkRunRequest {
  if (opts.mode !== 'replay' && opts.mode !== 'branch') throw new CliError('invalid_argument', '--mode must be replay or branch');
  const body: ForkRunRequest = { mode: opts.mode };
  if (opts.fromSeq !== undefined) body.fromSeq = parseSequence(opts.fromSeq, '--from-seq');
  else if (opts.mode === 'branch') throw new CliError('invalid_argument', '--from-seq is required with --mode branch');
  const configurable = buildObject(opts.config, opts.configJson, '--config', '--config-json');
  const tags = opts.tag && opts.tag.length > 0 ? opts.tag : undefined;
  if (configurable || tags) {
    if (opts.mode === 'replay') throw new CliError('invalid_argument', '--config and --tag overlay a branch fork only; a replay re-derives the run as it was');
    body.runOptionsOverlay = { ...(configurable ? { configurable } : {}), ...(tags ? { tags } : {}) };
  }
  return body;
}

/** How long a `node.suspended` waits for its `interrupt.requested` before it is prompted alone. */
export const SUSPEND_GRACE_MS = 250;

/** Prints a live event stream. */
interface EventPrinter {
  show(event: RunEventDoc): void;
  /** Stops the pending grace timer (call when the stream ends, however it ends). */
  close(): void;
}

/**
 * Prints each event as a line (or NDJSON with `--json`); in human mode, a run that starts
 * waiting on an interrupt also gets a prompt block naming the commands that answer it.
 */
export function eventPrinter(json: boolean | undefined, c: Colors, print: (text: string) => void): EventPrinter {
  if (json) return { show: (e) => print(JSON.stringify(e)), close: () => undefined };
  const watcher = createInterruptWatcher();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  const prompt = (infos: InterruptInfo[]): void => {
    for (const info of infos) print(formatInterruptPrompt(info, c));
  };
  return {
    show(e) {
      stop();
      print(formatEventLine(e, c));
      prompt(watcher.push(e));
      // A host that sends no interrupt.requested still gets its suspension prompted.
      if (watcher.holding) timer = setTimeout(() => prompt(watcher.flush()), SUSPEND_GRACE_MS);
    },
    close: stop,
  };
}

/** Rethrows a 409 `run_state_conflict` with the run status it reports added to the message. */
function rethrowWithRunStatus(err: unknown): never {
  if (err instanceof WeftApiError && err.code === 'run_state_conflict' && typeof err.details?.runStatus === 'string') {
    throw new CliError(err.code, `${err.message} (run status: ${err.details.runStatus})`, { cause: err });
  }
  throw err;
}

const parseSequence = (raw: string, flag: string): number => {
  if (!/^\d+$/.test(raw)) throw new CliError('invalid_argument', `${flag} must be a sequence number (integer ≥ 0)`);
  return Number(raw);
};

/** Registers the `runs` command group. */
export function registerRunCommands(program: Command, ctx: CliContext): void {
  const { io } = ctx;
  const runs = program.command('runs').description('start, inspect and cancel runs');
  const setup = (cmd: Command): { g: GlobalOptions; client: WeftClient; print: (text: string) => void } => {
    const g = cmd.optsWithGlobals<GlobalOptions>();
    return { g, client: clientFor(ctx, g), print: (text) => io.stdout(`${text}\n`) };
  };

  runs
    .command('start')
    .description('start a run (POST /v1/runs); --watch streams its events until it ends')
    .argument('<workflowId>', 'id of a registered workflow')
    .option('--input <key=value>', 'a run input; the value is JSON when it parses, else a string (repeatable)', collect)
    .option('--inputs-json <json>', 'run inputs as one JSON object (--input entries win)')
    .option('--config <key=value>', 'a configurable run option, parsed like --input (repeatable)', collect)
    .option('--config-json <json>', 'configurable run options as one JSON object')
    .option('--tag <tag>', 'a run tag (repeatable)', collect)
    .option('--callback-url <url>', 'https:// URL told (signed) of the run’s interrupts and its end; prints the callback secret once')
    .option('--idempotency-key <key>', 'Idempotency-Key header: a retry with the same key and body is replayed')
    .option('--watch', 'stream the events live and exit with the run outcome (0 completed, 2 failed, 3 cancelled)')
    .option('--stream-mode <modes>', 'stream mode(s) for --watch', DEFAULT_STREAM_MODE)
    .action(async (workflowId: string, opts: StartOptions, cmd: Command) => {
      const { g, client, print } = setup(cmd);
      const c = colorsFor(io, g.color);
      const body = createRunBody(workflowId, opts);
      const created = await client.createRun(body, opts.idempotencyKey === undefined ? {} : { idempotencyKey: opts.idempotencyKey });
      if (!g.json && created.callbackId)
        print(`callback ${created.callbackId} secret (shown once; later reads show ${created.callbackSecretFingerprint}…): ${created.callbackSecret}`);
      if (!opts.watch) {
        print(g.json ? JSON.stringify(created) : `run ${created.runId} ${paintStatus(created.status, c)}${created.replayed ? c.dim(' (replayed)') : ''}`);
        return;
      }
      if (!g.json) print(c.dim(`run ${created.runId} of ${created.workflowId}${created.replayed ? ' (replayed)' : ''}`));
      const printer = eventPrinter(g.json, c, print);
      let final: RunSnapshot;
      try {
        final = await client.watchRun(created.runId, (e) => printer.show(e), { streamMode: opts.streamMode });
      } finally {
        printer.close();
      }
      print(g.json ? JSON.stringify(final) : formatFinalStatus(final, c));
      ctx.exitCode = exitCodeForStatus(final.status);
      if (ctx.exitCode === EXIT_CODES.error) io.stderr(`error: run_not_terminal: run ${final.runId} is ${final.status} after its event stream ended\n`);
    });

  runs
    .command('fork')
    .description('fork a run (POST /v1/runs/{runId}:fork): replay it with its recorded effects served, or branch it live from a sequence')
    .argument('<runId>', 'the source run')
    .option('--mode <mode>', 'replay (effects served from the source, never made again) or branch (live: effects past --from-seq are made again)', 'replay')
    .option('--from-seq <n>', 'events before this sequence are kept as history; required with --mode branch (replay: 0)')
    .option('--config <key=value>', 'branch only: a configurable run option laid over the source’s (repeatable)', collect)
    .option('--config-json <json>', 'branch only: configurable run options as one JSON object')
    .option('--tag <tag>', 'branch only: the fork’s tags, replacing the source’s (repeatable)', collect)
    .option('--idempotency-key <key>', 'Idempotency-Key header: a retry with the same key and body is replayed')
    .option('--watch', 'stream the fork’s events live and exit with its outcome (0 completed, 2 failed, 3 cancelled)')
    .option('--stream-mode <modes>', 'stream mode(s) for --watch', DEFAULT_STREAM_MODE)
    .action(async (runId: string, opts: ForkOptions, cmd: Command) => {
      const { g, client, print } = setup(cmd);
      const c = colorsFor(io, g.color);
      const forked = await client.forkRun(runId, forkRunBody(opts), opts.idempotencyKey === undefined ? {} : { idempotencyKey: opts.idempotencyKey });
      const what = `run ${forked.runId} (${forked.mode} of ${forked.sourceRunId} from seq ${forked.fromSeq})${forked.replayed ? ' (replayed)' : ''}`;
      if (!opts.watch) {
        print(g.json ? JSON.stringify(forked) : `${what} ${paintStatus(forked.status, c)}`);
        return;
      }
      if (!g.json) print(c.dim(what));
      const printer = eventPrinter(g.json, c, print);
      let final: RunSnapshot;
      try {
        final = await client.watchRun(forked.runId, (e) => printer.show(e), { streamMode: opts.streamMode });
      } finally {
        printer.close();
      }
      print(g.json ? JSON.stringify(final) : formatFinalStatus(final, c));
      ctx.exitCode = exitCodeForStatus(final.status);
      if (ctx.exitCode === EXIT_CODES.error)
        io.stderr(`error: run_not_terminal: run ${final.runId} is ${final.status} after its event stream ended
`);
    });

  runs
    .command('get')
    .description('show a run snapshot (GET /v1/runs/{runId})')
    .argument('<runId>')
    .action(async (runId: string, _opts: unknown, cmd: Command) => {
      const { g, client, print } = setup(cmd);
      const snapshot = await client.getRun(runId);
      print(g.json ? JSON.stringify(snapshot) : formatSnapshot(snapshot, colorsFor(io, g.color)));
    });

  runs
    .command('cancel')
    .description('cancel runs (POST /v1/runs/{runId}/cancel, or :bulk-cancel for several)')
    .argument('<runIds...>')
    .option('--reason <text>', 'why, recorded on run.cancelled')
    .option('--idempotency-key <key>', 'Idempotency-Key header')
    .action(async (runIds: string[], opts: { reason?: string; idempotencyKey?: string }, cmd: Command) => {
      const { g, client, print } = setup(cmd);
      const c = colorsFor(io, g.color);
      const idem = opts.idempotencyKey === undefined ? {} : { idempotencyKey: opts.idempotencyKey };
      if (runIds.length === 1) {
        const res = await client.cancelRun(runIds[0] as string, opts.reason, idem);
        print(g.json ? JSON.stringify(res) : `run ${res.runId} ${paintStatus(res.status, c)}`);
        return;
      }
      const { results } = await client.bulkCancel(runIds, opts.reason, idem);
      if (g.json) print(JSON.stringify({ results }));
      for (const r of results) {
        if (!r.ok) ctx.exitCode = EXIT_CODES.error;
        if (g.json) continue;
        print(
          r.ok
            ? `run ${r.runId} ${paintStatus(r.status ?? 'cancelling', c)}`
            : `run ${r.runId} ${c.red('not cancelled')}: ${r.error?.code ?? 'error'}: ${r.error?.message ?? ''}`,
        );
      }
    });

  runs
    .command('list')
    .description('list runs, newest first (GET /v1/runs)')
    .option('--status <status>', 'only runs with this status')
    .option('--workflow <workflowId>', 'only runs of this workflow')
    .option('--limit <n>', 'page size')
    .option('--cursor <cursor>', 'next-page cursor printed by a previous call')
    .action(async (opts: { status?: string; workflow?: string; limit?: string; cursor?: string }, cmd: Command) => {
      const { g, client, print } = setup(cmd);
      const page = await client.listRuns({
        ...(opts.status ? { status: opts.status as RunStatus } : {}),
        ...(opts.workflow ? { workflowId: opts.workflow } : {}),
        ...(opts.limit ? { limit: parsePositiveInt(opts.limit, '--limit') } : {}),
        ...(opts.cursor ? { cursor: opts.cursor } : {}),
      });
      print(g.json ? JSON.stringify(page) : formatRunList(page));
    });

  runs
    .command('events')
    .description('print the events of a run (poll), or --follow them live (SSE) until it ends')
    .argument('<runId>')
    .option('--follow', 'stream live events until the terminal event, resuming dropped connections')
    .option('--after <sequence>', 'only events after this sequence')
    .option('--stream-mode <modes>', 'stream mode(s) for --follow', DEFAULT_STREAM_MODE)
    .action(async (runId: string, opts: EventsOptions, cmd: Command) => {
      const { g, client, print } = setup(cmd);
      const c = colorsFor(io, g.color);
      const show = (e: RunEventDoc): void => print(g.json ? JSON.stringify(e) : formatEventLine(e, c));
      const after = opts.after === undefined ? undefined : parseSequence(opts.after, '--after');
      if (opts.follow) {
        const printer = eventPrinter(g.json, c, print);
        try {
          for await (const e of client.streamEvents(runId, { streamMode: opts.streamMode, ...(after === undefined ? {} : { lastEventId: after }) }))
            printer.show(e);
        } finally {
          printer.close();
        }
        return;
      }
      // Page through the log; a live run costs one last (≤ 1 s) long-poll that comes back empty.
      let cursor = after;
      for (;;) {
        const page = await client.pollEvents(runId, { ...(cursor === undefined ? {} : { lastSequence: cursor }), timeout: 1 });
        for (const e of page.events) show(e);
        const last = page.events.at(-1);
        if (!last || (page.isTerminal && page.isComplete)) return;
        cursor = last.sequence;
      }
    });

  runs
    .command('pause')
    .description('pause a live run (POST /v1/runs/{runId}:pause); by default the running node finishes first')
    .argument('<runId>')
    .option('--reason <text>', 'why, recorded on run.paused')
    .option('--immediate', 'abort the running node instead of letting it finish (drainPolicy immediate)')
    .option('--idempotency-key <key>', 'Idempotency-Key header')
    .action(async (runId: string, opts: { reason?: string; immediate?: boolean; idempotencyKey?: string }, cmd: Command) => {
      const { g, client, print } = setup(cmd);
      const res = await client
        .pauseRun(runId, {
          ...(opts.reason === undefined ? {} : { reason: opts.reason }),
          ...(opts.immediate ? { drainPolicy: 'immediate' as const } : {}),
          ...(opts.idempotencyKey === undefined ? {} : { idempotencyKey: opts.idempotencyKey }),
        })
        .catch(rethrowWithRunStatus);
      print(g.json ? JSON.stringify(res) : formatRunControlResult(res));
    });

  runs
    .command('resume')
    .description('resume a paused run (POST /v1/runs/{runId}:resume)')
    .argument('<runId>')
    .option('--reason <text>', 'why, recorded on run.resumed')
    .option('--idempotency-key <key>', 'Idempotency-Key header')
    .action(async (runId: string, opts: { reason?: string; idempotencyKey?: string }, cmd: Command) => {
      const { g, client, print } = setup(cmd);
      const res = await client
        .resumeRun(runId, {
          ...(opts.reason === undefined ? {} : { reason: opts.reason }),
          ...(opts.idempotencyKey === undefined ? {} : { idempotencyKey: opts.idempotencyKey }),
        })
        .catch(rethrowWithRunStatus);
      print(g.json ? JSON.stringify(res) : formatRunControlResult(res));
    });
}
