/**
 * `weft secrets set|list|rotate|rm|rewrap` — the tenant's secrets vault through the SDK
 * (`/v1/host/weft/secrets`, scopes `secrets:read` / `secrets:write`; `rewrap` needs the operator
 * credential). Values are write-only: they are read from standard input (default), a file
 * (`--from-file`) or an environment variable (`--from-env`), never from the command line, where
 * shell history and the process list would keep them; nothing this command prints carries one.
 *
 * @see docs/security/README.md "Secrets vault"
 */
import { readFile } from 'node:fs/promises';
import type { SecretMetadata } from '@weft/sdk';
import type { Command } from 'commander';
import type { CliContext } from '../cli-io.js';
import { clientFor, type GlobalOptions } from '../connection.js';
import { CliError } from '../errors.js';

interface ValueOptions {
  fromFile?: string;
  fromEnv?: string;
  description?: string;
  ifMatch?: string;
  idempotencyKey?: string;
}

/** Reads a secret value from the chosen source; one trailing newline is dropped (files and pipes end with one). */
export async function readSecretValue(ctx: CliContext, o: ValueOptions): Promise<string> {
  if (o.fromFile !== undefined && o.fromEnv !== undefined) throw new CliError('invalid_argument', 'use --from-file or --from-env, not both');
  let raw: string;
  if (o.fromEnv !== undefined) {
    const v = ctx.io.env[o.fromEnv];
    if (v === undefined || v === '') throw new CliError('invalid_argument', `environment variable ${o.fromEnv} is not set`);
    raw = v;
  } else if (o.fromFile !== undefined) {
    try {
      raw = await readFile(o.fromFile, 'utf8');
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw new CliError('file_unreadable', `cannot read ${o.fromFile}${typeof code === 'string' ? ` (${code})` : ''}`, { cause: err });
    }
  } else {
    if (!ctx.io.readStdin) throw new CliError('invalid_argument', 'no standard input: pass --from-file or --from-env');
    raw = await ctx.io.readStdin();
  }
  const value = raw.replace(/\r?\n$/, '');
  if (value === '') throw new CliError('invalid_argument', 'the secret value is empty');
  ctx.secrets.add(value);
  return value;
}

const line = (m: SecretMetadata): string => `${m.secretId}\tv${m.version}\tupdated ${m.updatedAt}${m.description ? `\t${m.description}` : ''}`;

/** Registers the `secrets` command group. */
export function registerSecretCommands(program: Command, ctx: CliContext): void {
  const { io } = ctx;
  const print = (text: string): void => io.stdout(`${text}\n`);
  const secrets = program.command('secrets').description("manage the tenant's vault secrets (values are write-only)");
  const sources = (c: Command): Command =>
    c
      .option('--from-file <path>', 'read the value from a file (default: standard input)')
      .option('--from-env <name>', 'read the value from an environment variable')
      .option('--description <text>', 'a note shown in listings (never the value)')
      .option('--idempotency-key <key>', 'Idempotency-Key for a safe retry');

  sources(
    secrets.command('set').description('store a new secret (POST /v1/host/weft/secrets)').argument('<secretId>', 'the reference nodes will resolve'),
  ).action(async (secretId: string, o: ValueOptions, cmd: Command) => {
    const g = cmd.optsWithGlobals<GlobalOptions>();
    const value = await readSecretValue(ctx, o);
    const m = await clientFor(ctx, g).createSecret(
      { secretId, value, ...(o.description === undefined ? {} : { description: o.description }) },
      o.idempotencyKey === undefined ? {} : { idempotencyKey: o.idempotencyKey },
    );
    print(g.json ? JSON.stringify(m) : `stored ${m.secretId} (version ${m.version})`);
  });

  secrets
    .command('list')
    .description('list secrets: metadata only (GET /v1/host/weft/secrets)')
    .action(async (_o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const { secrets: all } = await clientFor(ctx, g).listSecrets();
      if (g.json) return print(JSON.stringify({ secrets: all }));
      print(all.length === 0 ? 'no secrets' : all.map(line).join('\n'));
    });

  sources(
    secrets
      .command('rotate')
      .description('replace the value: a new version (POST /v1/host/weft/secrets/{secretId}:rotate)')
      .argument('<secretId>')
      .option('--if-match <etag>', 'only if the secret still has this ETag'),
  ).action(async (secretId: string, o: ValueOptions, cmd: Command) => {
    const g = cmd.optsWithGlobals<GlobalOptions>();
    const value = await readSecretValue(ctx, o);
    const m = await clientFor(ctx, g).rotateSecret(
      secretId,
      { value, ...(o.description === undefined ? {} : { description: o.description }) },
      { ...(o.ifMatch === undefined ? {} : { ifMatch: o.ifMatch }), ...(o.idempotencyKey === undefined ? {} : { idempotencyKey: o.idempotencyKey }) },
    );
    print(g.json ? JSON.stringify(m) : `rotated ${m.secretId} (version ${m.version})`);
  });

  secrets
    .command('rm')
    .description('delete a secret at once (DELETE /v1/host/weft/secrets/{secretId})')
    .argument('<secretId>')
    .option('--if-match <etag>', 'only if the secret still has this ETag')
    .action(async (secretId: string, o: ValueOptions, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      await clientFor(ctx, g).deleteSecret(secretId, o.ifMatch === undefined ? {} : { ifMatch: o.ifMatch });
      print(g.json ? JSON.stringify({ secretId, deleted: true }) : `deleted ${secretId}`);
    });

  secrets
    .command('rewrap')
    .description('operator: rewrap every data key under the current master key (POST /v1/host/weft/vault:rewrap)')
    .action(async (_o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const r = await clientFor(ctx, g).rewrapVault();
      if (g.json) return print(JSON.stringify(r));
      print(
        `rewrapped ${r.rewrapped} under ${r.masterKeyId}; ${r.remaining} remaining${r.unreadable > 0 ? `, ${r.unreadable} unreadable with the configured keys` : ''}`,
      );
      if (r.remaining > 0) ctx.exitCode = Math.max(ctx.exitCode, 1);
    });
}
