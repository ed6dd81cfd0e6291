/**
 * `weft workflows list|get|register|delete` — Weft's workflow host extension plus the spec's
 * read endpoint.
 *
 * @see wire-contract.md §5.7
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { CliContext } from '../cli-io.js';
import { clientFor, type GlobalOptions } from '../connection.js';
import { CliError } from '../errors.js';
import { parseJsonObject } from '../input-parsing.js';
import { formatWorkflowList } from '../run-format.js';

/** Reads a workflow definition file (a JSON object). */
export async function readDefinitionFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new CliError('file_unreadable', `cannot read ${path}${typeof code === 'string' ? ` (${code})` : ''}`, { cause: err });
  }
  return parseJsonObject(text, path);
}

/** Registers the `workflows` command group. */
export function registerWorkflowCommands(program: Command, ctx: CliContext): void {
  const { io } = ctx;
  const print = (text: string): void => io.stdout(`${text}\n`);
  const workflows = program.command('workflows').description('manage stored workflow definitions');

  workflows
    .command('list')
    .description('list stored workflows (GET /v1/host/weft/workflows)')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const { workflows: all } = await clientFor(ctx, g).listWorkflows();
      print(g.json ? JSON.stringify({ workflows: all }) : formatWorkflowList(all));
    });

  workflows
    .command('get')
    .description('print a workflow definition (GET /v1/workflows/{workflowId})')
    .argument('<workflowId>')
    .action(async (workflowId: string, _opts: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const def = await clientFor(ctx, g).getWorkflow(workflowId);
      print(g.json ? JSON.stringify(def) : JSON.stringify(def, null, 2));
    });

  workflows
    .command('register')
    .description('register a workflow definition from a JSON file (POST /v1/host/weft/workflows)')
    .argument('<file>', 'path of a workflow definition JSON file')
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const def = await readDefinitionFile(file);
      const res = await clientFor(ctx, g).registerWorkflow(def);
      if (g.json) return print(JSON.stringify(res));
      print(
        `${res.created ? 'registered' : 'unchanged'} ${res.id} (hash ${res.hash.slice(0, 12)})${res.runnable === false ? ' — not runnable on this host' : ''}`,
      );
    });

  workflows
    .command('delete')
    .description('delete a stored workflow (DELETE /v1/host/weft/workflows/{workflowId})')
    .argument('<workflowId>')
    .action(async (workflowId: string, _opts: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      await clientFor(ctx, g).deleteWorkflow(workflowId);
      print(g.json ? JSON.stringify({ id: workflowId, deleted: true }) : `deleted ${workflowId}`);
    });
}
