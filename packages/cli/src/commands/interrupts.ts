/**
 * `weft interrupts list|show|approve|reject|answer|resolve` — the human-in-the-loop side of
 * a run: see what runs wait on and answer them.
 *
 * @see wire-contract.md §1.1 (#11–#15), execution-semantics.md §2.4
 */
import type { Command } from 'commander';
import type { InterruptView, WeftClient } from '@weft/sdk';
import { colorsFor, type CliContext } from '../cli-io.js';
import { clientFor, resolveConnection, type GlobalOptions } from '../connection.js';
import { CliError } from '../errors.js';
import { formatInterruptDetails, formatInterruptTable, formatResolveResult, infoFromView, type InterruptInfo } from '../interrupt-format.js';
import { collect, parseAnswers, parseJsonValue } from '../input-parsing.js';

interface ResolveFlags {
  idempotencyKey?: string;
}

/** The interrupt of `nodeId`: the pending one, else the latest settled one. */
export function pickInterrupt(list: readonly InterruptView[], nodeId: string): InterruptView | undefined {
  const mine = list.filter((i) => i.nodeId === nodeId);
  return mine.find((i) => i.status === 'pending') ?? mine.at(-1);
}

/** Registers the `interrupts` command group. */
export function registerInterruptCommands(program: Command, ctx: CliContext): void {
  const { io } = ctx;
  const print = (text: string): void => io.stdout(`${text}\n`);
  const now = (): number => (io.now ? io.now() : Date.now());
  const setup = (cmd: Command): { g: GlobalOptions; client: WeftClient } => {
    const g = cmd.optsWithGlobals<GlobalOptions>();
    return { g, client: clientFor(ctx, g) };
  };
  const idem = (opts: ResolveFlags): { idempotencyKey?: string } => (opts.idempotencyKey === undefined ? {} : { idempotencyKey: opts.idempotencyKey });

  const interrupts = program.command('interrupts').description('see and answer what runs wait on (approvals, questions, external events)');

  interrupts
    .command('list')
    .description('list pending interrupts of your tenant (GET /v1/host/weft/interrupts), or every interrupt of one run')
    .option('--run <runId>', 'every interrupt of this run, settled ones included (GET /v1/runs/{runId}/interrupts)')
    .action(async (opts: { run?: string }, cmd: Command) => {
      const { g, client } = setup(cmd);
      const body = opts.run === undefined ? await client.listPendingInterrupts() : await client.listRunInterrupts(opts.run);
      print(g.json ? JSON.stringify(body) : formatInterruptTable(body.interrupts, now(), { withStatus: opts.run !== undefined }));
    });

  interrupts
    .command('show')
    .description("show what a run waits on and how to answer it (all pending interrupts, or the node's)")
    .argument('<runId>')
    .argument('[nodeId]', 'only the interrupt of this node (the pending one, else the latest)')
    .action(async (runId: string, nodeId: string | undefined, _opts: unknown, cmd: Command) => {
      const { g, client } = setup(cmd);
      const c = colorsFor(io, g.color);
      const [{ interrupts: list }, snapshot] = await Promise.all([client.listRunInterrupts(runId), client.getRun(runId)]);
      // The snapshot carries the callback token of its first pending interrupt; it is a credential.
      if (snapshot.interrupt?.interruptToken) ctx.secrets.add(snapshot.interrupt.interruptToken);
      const toJson = (info: InterruptInfo, view: InterruptView): Record<string, unknown> => ({
        ...view,
        ...(info.interruptToken ? { interruptToken: info.interruptToken } : {}),
        ...(info.tokenExpiresAt ? { tokenExpiresAt: info.tokenExpiresAt } : {}),
      });
      const baseUrl = resolveConnection(g, io.env).baseUrl.replace(/\/+$/, '');
      if (nodeId !== undefined) {
        const view = pickInterrupt(list, nodeId);
        if (!view) throw new CliError('not_found', `run ${runId} has no interrupt at node ${nodeId}`);
        const info = infoFromView(view, snapshot.interrupt);
        print(g.json ? JSON.stringify(toJson(info, view)) : formatInterruptDetails(info, c, now(), baseUrl));
        return;
      }
      const pending = list.filter((i) => i.status === 'pending');
      if (g.json) return print(JSON.stringify({ interrupts: pending.map((v) => toJson(infoFromView(v, snapshot.interrupt), v)) }));
      if (pending.length === 0) {
        print(`run ${runId} waits on nothing (status ${snapshot.status})${list.length > 0 ? `; settled interrupts: weft interrupts list --run ${runId}` : ''}`);
        return;
      }
      print(pending.map((v) => formatInterruptDetails(infoFromView(v, snapshot.interrupt), c, now(), baseUrl)).join('\n\n'));
    });

  const resolveCommand = (name: string, description: string): Command =>
    interrupts
      .command(name)
      .description(description)
      .argument('<runId>')
      .argument('<nodeId>')
      .option('--idempotency-key <key>', 'Idempotency-Key header: a retry with the same key and body is replayed');

  resolveCommand('approve', 'accept the approval a node waits on (resumeValue {action: "accept"})')
    .option('--comment <text>', 'recorded with the decision')
    .action(async (runId: string, nodeId: string, opts: ResolveFlags & { comment?: string }, cmd: Command) => {
      const { g, client } = setup(cmd);
      const res = await client.approve(runId, nodeId, { ...idem(opts), ...(opts.comment === undefined ? {} : { comment: opts.comment }) });
      print(g.json ? JSON.stringify(res) : formatResolveResult(res, colorsFor(io, g.color)));
    });

  resolveCommand('reject', 'reject the approval a node waits on (resumeValue {action: "reject"})')
    .option('--comment <text>', 'why; recorded with the decision')
    .action(async (runId: string, nodeId: string, opts: ResolveFlags & { comment?: string }, cmd: Command) => {
      const { g, client } = setup(cmd);
      const res = await client.reject(runId, nodeId, { ...idem(opts), ...(opts.comment === undefined ? {} : { comment: opts.comment }) });
      print(g.json ? JSON.stringify(res) : formatResolveResult(res, colorsFor(io, g.color)));
    });

  resolveCommand('answer', 'answer the questions of a clarification (resumeValue {answers})')
    .option('--answer <id=text>', 'the answer to one question, kept as a string (repeatable)', collect)
    .option('--answers-json <json>', 'answers as one JSON object {"<questionId>": <answer>} (--answer entries win)')
    .action(async (runId: string, nodeId: string, opts: ResolveFlags & { answer?: string[]; answersJson?: string }, cmd: Command) => {
      const { g, client } = setup(cmd);
      const answers = parseAnswers(opts.answer, opts.answersJson);
      const res = await client.answer(runId, nodeId, answers, idem(opts));
      print(g.json ? JSON.stringify(res) : formatResolveResult(res, colorsFor(io, g.color)));
    });

  resolveCommand('resolve', 'answer any interrupt with a raw resume value (an external event, a custom payload, a refine…)')
    .requiredOption('--value <json>', 'the resumeValue, as JSON')
    .action(async (runId: string, nodeId: string, opts: ResolveFlags & { value: string }, cmd: Command) => {
      const { g, client } = setup(cmd);
      const value = parseJsonValue(opts.value, '--value');
      const res = await client.resolveInterrupt(runId, nodeId, value, idem(opts));
      print(g.json ? JSON.stringify(res) : formatResolveResult(res, colorsFor(io, g.color)));
    });
}
