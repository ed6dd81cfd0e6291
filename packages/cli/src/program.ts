/**
 * The `weft` command tree and {@link runCli}, which runs one invocation against a
 * {@link CliIo} and returns its exit status instead of exiting (so it can run in tests).
 */
import { Command, CommanderError } from 'commander';
import type { CliContext, CliIo } from './cli-io.js';
import { registerConformanceCommand } from './commands/conformance.js';
import { registerDiscoveryCommand } from './commands/discovery.js';
import { registerInterruptCommands } from './commands/interrupts.js';
import { registerKeyCommands } from './commands/keys.js';
import { registerPackCommands } from './commands/packs.js';
import { registerRunCommands } from './commands/runs.js';
import { registerSecretCommands } from './commands/secrets.js';
import { registerWebhookCommands } from './commands/webhooks.js';
import { registerServeCommand } from './commands/serve.js';
import { registerWorkflowCommands } from './commands/workflows.js';
import { CLI_VERSION } from './connection.js';
import { formatErrorLine } from './errors.js';

/** Builds the command tree for one invocation. */
export function createProgram(ctx: CliContext): Command {
  const program = new Command('weft')
    .description('Weft — a host and client for the OpenWOP v1 workflow protocol')
    .version(CLI_VERSION, '-V, --version')
    .option('--base-url <url>', 'host to talk to (env OPENWOP_BASE_URL, then WEFT_BASE_URL; default http://127.0.0.1:3737)')
    .option('--api-key <key>', 'API key (env OPENWOP_API_KEY, then WEFT_API_KEY); the variables keep it out of ps')
    .option('--json', 'print raw JSON (one document per line when streaming)')
    .option('--no-color', 'never colour the output')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.io.stdout(text),
      writeErr: (text) => ctx.io.stderr(text),
    });
  registerServeCommand(program, ctx);
  registerRunCommands(program, ctx);
  registerInterruptCommands(program, ctx);
  registerWorkflowCommands(program, ctx);
  registerKeyCommands(program, ctx);
  registerSecretCommands(program, ctx);
  registerWebhookCommands(program, ctx);
  registerPackCommands(program, ctx);
  registerDiscoveryCommand(program, ctx);
  registerConformanceCommand(program, ctx);
  return program;
}

/** Credentials visible before any command ran, so even early errors cannot print them. */
function knownSecrets(argv: readonly string[], env: NodeJS.ProcessEnv): Set<string> {
  const out = new Set<string>();
  for (const v of [env.OPENWOP_API_KEY, env.WEFT_API_KEY]) if (v) out.add(v);
  argv.forEach((arg, i) => {
    if (arg === '--api-key' && argv[i + 1]) out.add(argv[i + 1] as string);
    else if (arg.startsWith('--api-key=') && arg.length > '--api-key='.length) out.add(arg.slice('--api-key='.length));
  });
  return out;
}

/**
 * Runs one invocation (`argv` without the node and script paths) and resolves with its exit
 * status: 0 on success, 1 on any error (printed as `error: <code>: <message>`), or the
 * status a command chose (`runs start --watch`: 2 failed, 3 cancelled).
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const ctx: CliContext = { io, exitCode: 0, secrets: knownSecrets(argv, io.env) };
  const program = createProgram(ctx);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    // Commander already printed usage errors and help; only its status matters.
    if (err instanceof CommanderError) return err.exitCode;
    io.stderr(`${formatErrorLine(err, ctx.secrets)}\n`);
    return 1;
  }
}
