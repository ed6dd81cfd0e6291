/**
 * `weft discovery` — prints the host's discovery document.
 *
 * @see wire-contract.md §2
 */
import type { Command } from 'commander';
import type { CliContext } from '../cli-io.js';
import { clientFor, type GlobalOptions } from '../connection.js';

/** Registers `weft discovery`. */
export function registerDiscoveryCommand(program: Command, ctx: CliContext): void {
  program
    .command('discovery')
    .description('print the discovery document (GET /.well-known/openwop)')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const doc = await clientFor(ctx, g).discovery();
      ctx.io.stdout(`${g.json ? JSON.stringify(doc) : JSON.stringify(doc, null, 2)}\n`);
    });
}
