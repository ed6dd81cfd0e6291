/**
 * `weft runs start|get|cancel|list|events`.
 *
 * @see wire-contract.md §1.1 (#4–#9), §3.5, §3.6
 */
import type { Command } from 'commander';
import type { RunEventDoc, RunStatus } from '@weft/contract';
import type { CreateRunBody, WeftClient } from '@weft/sdk';
import { colorsFor, type CliContext } from '../cli-io.js';
import { clientFor, type GlobalOptions } from '../connection.js';
import { CliError } from '../errors.js';
import { formatEventLine } from '../event-format.js';
import { buildObject, collect, parsePositiveInt } from '../input-parsing.js';
import { EXIT_CODES, exitCodeForStatus, formatFinalStatus, formatRunList, formatSnapshot, paintStatus } from '../run-format.js';

/** Stream mode of `--watch` and `--follow`: everything, so node starts are visible too. */
const DEFAULT_STREAM_MODE = 'debug';

interface StartOptions {
  input?: string[];
  inputsJson?: string;
  config?: string[];
  configJson?: string;
  tag?: string[];
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
export function createRunBody(workflowId: string, opts: Pick<StartOptions, 'input' | 'inputsJson' | 'config' | 'configJson' | 'tag'>): CreateRunBody {
  const body: CreateRunBody = { workflowId };
  const inputs = buildObject(opts.input, opts.inputsJson, '--input', '--inputs-json');
  const configurable = buildObject(opts.config, opts.configJson, '--config', '--config-json');
  if (inputs) body.inputs = inputs;
  if (configurable) body.configurable = configurable;
  if (opts.tag && opts.tag.length > 0) body.tags = opts.tag;
  return body;
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
    .option('--idempotency-key <key>', 'Idempotency-Key header: a retry with the same key and body is replayed')
    .option('--watch', 'stream the events live and exit with the run outcome (0 completed, 2 failed, 3 cancelled)')
    .option('--stream-mode <modes>', 'stream mode(s) for --watch', DEFAULT_STREAM_MODE)
    .action(async (workflowId: string, opts: StartOptions, cmd: Command) => {
      const { g, client, print } = setup(cmd);
      const c = colorsFor(io, g.color);
      const body = createRunBody(workflowId, opts);
      const created = await client.createRun(body, opts.idempotencyKey === undefined ? {} : { idempotencyKey: opts.idempotencyKey });
      if (!opts.watch) {
        print(g.json ? JSON.stringify(created) : `run ${created.runId} ${paintStatus(created.status, c)}${created.replayed ? c.dim(' (replayed)') : ''}`);
        return;
      }
      if (!g.json) print(c.dim(`run ${created.runId} of ${created.workflowId}${created.replayed ? ' (replayed)' : ''}`));
      const onEvent = (e: RunEventDoc): void => print(g.json ? JSON.stringify(e) : formatEventLine(e, c));
      const final = await client.watchRun(created.runId, onEvent, { streamMode: opts.streamMode });
      print(g.json ? JSON.stringify(final) : formatFinalStatus(final, c));
      ctx.exitCode = exitCodeForStatus(final.status);
      if (ctx.exitCode === EXIT_CODES.error) io.stderr(`error: run_not_terminal: run ${final.runId} is ${final.status} after its event stream ended\n`);
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
        print(r.ok ? `run ${r.runId} ${paintStatus(r.status ?? 'cancelling', c)}` : `run ${r.runId} ${c.red('not cancelled')}: ${r.error?.code ?? 'error'}: ${r.error?.message ?? ''}`);
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
        for await (const e of client.streamEvents(runId, { streamMode: opts.streamMode, ...(after === undefined ? {} : { lastEventId: after }) })) show(e);
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
}
