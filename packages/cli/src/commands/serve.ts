/**
 * `weft serve` — runs a host in this process. Every flag mirrors a `WEFT_*` variable; the flags
 * are laid over the environment and handed to the server's own `loadConfig`, so flag and
 * variable values are parsed and validated by exactly the same code, and flags win.
 */
import { Option, type Command } from 'commander';
import type { CliContext } from '../cli-io.js';
import { CliError, formatErrorLine } from '../errors.js';

/** The `serve` flags (all strings, as typed). */
export interface ServeOptions {
  host?: string;
  port?: string;
  dataDir?: string;
  store?: string;
  pgUrl?: string;
  workflowsDir?: string;
  apiKeys?: string;
  operatorKey?: string;
  masterKeyFile?: string;
  shutdownTimeoutMs?: string;
}

/** Flag → environment variable it mirrors. */
export const SERVE_FLAG_ENV: Readonly<Record<keyof ServeOptions, string>> = {
  host: 'WEFT_HOST',
  port: 'WEFT_PORT',
  dataDir: 'WEFT_DATA_DIR',
  store: 'WEFT_STORE',
  pgUrl: 'WEFT_PG_URL',
  workflowsDir: 'WEFT_WORKFLOWS_DIR',
  apiKeys: 'WEFT_API_KEYS',
  operatorKey: 'WEFT_OPERATOR_KEY',
  masterKeyFile: 'WEFT_MASTER_KEY_FILE',
  shutdownTimeoutMs: 'WEFT_SHUTDOWN_TIMEOUT_MS',
};

/** The environment the host is configured from: `env` with every given flag laid over it. */
export function serveEnvironment(opts: ServeOptions, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const [flag, name] of Object.entries(SERVE_FLAG_ENV) as [keyof ServeOptions, string][]) {
    const value = opts[flag];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * Credentials inside the serve configuration (API keys, the Postgres URL and its password),
 * so an error line can never print them.
 */
export function serveSecrets(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const pair of (env.WEFT_API_KEYS ?? '').split(',')) {
    const at = pair.indexOf(':');
    const key = at >= 0 ? pair.slice(at + 1).trim() : pair.trim();
    if (key) out.push(key);
  }
  if (env.WEFT_OPERATOR_KEY?.trim()) out.push(env.WEFT_OPERATOR_KEY.trim());
  // Vault master keys (`kid:key` entries): the key parts, and the whole variable.
  if (env.WEFT_MASTER_KEY?.trim()) {
    out.push(env.WEFT_MASTER_KEY.trim());
    for (const entry of env.WEFT_MASTER_KEY.split(/[\n,]/)) {
      const key = entry.slice(entry.indexOf(':') + 1).trim();
      if (key.length >= 16) out.push(key);
    }
  }
  const pg = env.WEFT_PG_URL;
  if (pg) {
    out.push(pg);
    try {
      const password = decodeURIComponent(new URL(pg).password);
      if (password) out.push(password);
    } catch {
      // Not a URL: the whole string is already redacted.
    }
  }
  return out;
}

/** Registers `weft serve`. */
export function registerServeCommand(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('run a Weft host (flags override the WEFT_* environment variables)')
    .option('--host <host>', 'interface to listen on (WEFT_HOST, default 127.0.0.1)')
    .option('--port <port>', 'TCP port, 0 = any free port (WEFT_PORT, default 3737)')
    .option('--data-dir <dir>', 'directory of the SQLite database (WEFT_DATA_DIR, default .weft)')
    .addOption(new Option('--store <kind>', 'event store (WEFT_STORE, default sqlite)').choices(['sqlite', 'memory', 'postgres']))
    .option('--pg-url <url>', 'Postgres connection string for --store postgres (WEFT_PG_URL)')
    .option('--workflows-dir <dirs>', 'workflow directories loaded at boot, separated by ":" (WEFT_WORKFLOWS_DIR)')
    .option('--api-keys <list>', 'accepted keys as tenant:key,... (WEFT_API_KEYS); prefer the variable, flags show in ps')
    .option('--operator-key <key>', 'the operator credential that administers every tenant (WEFT_OPERATOR_KEY, ≥ 32 characters); prefer the variable')
    .option('--master-key-file <path>', 'file of the secrets-vault master keys, kid:key per line (WEFT_MASTER_KEY_FILE)')
    .option('--shutdown-timeout-ms <ms>', 'longest a SIGTERM/SIGINT shutdown drains before it closes anyway (WEFT_SHUTDOWN_TIMEOUT_MS, default 10000)')
    .action(async (opts: ServeOptions) => {
      const env = serveEnvironment(opts, ctx.io.env);
      for (const s of serveSecrets(env)) ctx.secrets.add(s);
      // Loaded on demand so client commands never pay for (or depend on) the server's stack.
      const { loadConfig, startHost } = await import('@weft/server');
      let config: ReturnType<typeof loadConfig>;
      try {
        config = loadConfig(env, {});
      } catch (err) {
        throw new CliError('invalid_config', err instanceof Error ? err.message : String(err), { cause: err });
      }
      const host = await startHost(config);
      let closing = false;
      const shutdown = (): void => {
        if (closing) {
          // A second signal while draining: stop now.
          process.exit(1);
        }
        closing = true;
        host.close().then(
          () => process.exit(0),
          (err: unknown) => {
            ctx.io.stderr(`${formatErrorLine(err, ctx.secrets)}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', shutdown);
      process.on('SIGTERM', shutdown);
    });
}
