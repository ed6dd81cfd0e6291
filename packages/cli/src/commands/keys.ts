/**
 * `weft keys create|list|rotate|revoke` — managed API keys, through the admin API
 * (`/v1/host/weft/keys`, scope `keys:manage`) or, with `--data-dir`, directly on a local
 * SQLite data directory (no host needed: this is how the first admin key is made). The secret
 * of a new or rotated key is printed once and exists nowhere else.
 *
 * @see security-contract.md §1.4
 */
import type { Command } from 'commander';
import type { CliContext } from '../cli-io.js';
import { CLI_VERSION, resolveConnection, type GlobalOptions } from '../connection.js';
import { CliError } from '../errors.js';

/** The admin principal recorded in the audit log for offline operations. */
export const OFFLINE_ACTOR = { principal: 'operator:cli' } as const;

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** Parses `90`, `90s`, `15m`, `24h`, `30d`, `2w` into whole seconds. */
export function parseDuration(raw: string, flag: string): number {
  const m = /^(\d{1,9})([smhdw]?)$/.exec(raw.trim());
  if (!m) throw new CliError('invalid_argument', `${flag} must be a duration such as 3600, 90m, 24h or 30d`);
  return Number(m[1]) * (UNITS[m[2] || 's'] as number);
}

/** A key as the API and the offline path both present it. */
interface KeyView {
  keyId: string;
  tenant: string;
  name: string;
  scopes: string[];
  status: string;
  createdAt: string;
  expiresAt?: string;
  graceUntil?: string;
  rotatedFrom?: string;
  secret?: string;
  rotated?: { keyId: string; graceUntil: string };
}

interface KeysOptions {
  dataDir?: string;
}

/** Where a key command runs: the admin API, or a local data directory. */
interface KeyBackend {
  create(body: { tenant?: string; name?: string; scopes: string[]; expiresInSeconds?: number }): Promise<KeyView>;
  list(tenant?: string): Promise<KeyView[]>;
  rotate(keyId: string, body: { graceSeconds?: number; expiresInSeconds?: number }): Promise<KeyView>;
  revoke(keyId: string): Promise<KeyView>;
  close(): Promise<void>;
}

function apiBackend(ctx: CliContext, g: GlobalOptions): KeyBackend {
  const conn = resolveConnection(g, ctx.io.env);
  if (conn.apiKey) ctx.secrets.add(conn.apiKey);
  const doFetch = ctx.io.fetch ?? fetch;
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const headers: Record<string, string> = { 'user-agent': `weft-cli/${CLI_VERSION}`, accept: 'application/json' };
    if (conn.apiKey) headers.authorization = `Bearer ${conn.apiKey}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await doFetch(`${conn.baseUrl.replace(/\/+$/, '')}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    } catch (err) {
      throw new CliError('connection_failed', `cannot reach ${conn.baseUrl}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const e = (parsed ?? {}) as { error?: unknown; message?: unknown; details?: unknown };
      const err = new CliError(typeof e.error === 'string' ? e.error : `http_${res.status}`, typeof e.message === 'string' ? e.message : `HTTP ${res.status}`);
      Object.assign(err, { details: e.details });
      throw err;
    }
    return parsed as T;
  };
  const seg = encodeURIComponent;
  return {
    create: (body) => call<KeyView>('POST', '/v1/host/weft/keys', body),
    list: async (tenant) => (await call<{ keys: KeyView[] }>('GET', `/v1/host/weft/keys${tenant ? `?tenant=${seg(tenant)}` : ''}`)).keys,
    rotate: (keyId, body) => call<KeyView>('POST', `/v1/host/weft/keys/${seg(keyId)}:rotate`, body),
    revoke: (keyId) => call<KeyView>('POST', `/v1/host/weft/keys/${seg(keyId)}:revoke`, {}),
    close: async () => undefined,
  };
}

async function offlineBackend(ctx: CliContext, dataDir: string): Promise<KeyBackend> {
  // Loaded on demand: only offline key commands need the server's storage stack.
  const { loadConfig, openStore, openSecurityServices } = await import('@weft/server');
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({ ...ctx.io.env, WEFT_STORE: 'sqlite', WEFT_DATA_DIR: dataDir }, {});
  } catch (err) {
    throw new CliError('invalid_config', err instanceof Error ? err.message : String(err), { cause: err });
  }
  const store = await openStore(config);
  await store.migrate();
  const { audit, managedKeys: svc } = await openSecurityServices(store, config, { timers: false });
  const view = (k: Parameters<typeof svc.view>[0]): KeyView => svc.view(k);
  return {
    create: async (body) => {
      if (!body.tenant) throw new CliError('invalid_argument', '--tenant is required with --data-dir');
      const r = await svc.create({ ...body, tenant: body.tenant }, OFFLINE_ACTOR);
      return { ...view(r.key), secret: r.secret };
    },
    list: async (tenant) => (await svc.list(tenant)).map(view),
    rotate: async (keyId, body) => {
      const r = await svc.rotate(keyId, body, OFFLINE_ACTOR);
      return { ...view(r.key), secret: r.secret, rotated: { keyId: r.old.keyId, graceUntil: new Date(r.old.graceUntil as number).toISOString() } };
    },
    revoke: async (keyId) => view(await svc.revoke(keyId, OFFLINE_ACTOR)),
    close: async () => {
      await audit.close();
      await store.close();
    },
  };
}

/** One line per key. */
export function formatKeyList(keys: readonly KeyView[]): string {
  if (keys.length === 0) return 'no keys';
  const rows = keys.map((k) => [
    k.keyId,
    k.tenant,
    k.status,
    k.scopes.join(','),
    k.name || '-',
    k.createdAt,
    k.graceUntil ? `grace until ${k.graceUntil}` : k.expiresAt ? `expires ${k.expiresAt}` : '',
  ]);
  const head = ['KEY ID', 'TENANT', 'STATUS', 'SCOPES', 'NAME', 'CREATED', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  return [head, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] as number))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function formatIssued(k: KeyView, verb: string): string {
  const lines = [`${verb} key ${k.keyId} for tenant ${k.tenant} (scopes: ${k.scopes.join(', ')})${k.expiresAt ? `, expires ${k.expiresAt}` : ''}`];
  if (k.rotated) lines.push(`the old key ${k.rotated.keyId} keeps working until ${k.rotated.graceUntil}`);
  lines.push('secret (shown once; store it now):', `  ${k.secret ?? ''}`);
  return lines.join('\n');
}

/** Registers the `keys` command group. */
export function registerKeyCommands(program: Command, ctx: CliContext): void {
  const { io } = ctx;
  const print = (text: string): void => io.stdout(`${text}\n`);
  const keys = program.command('keys').description('manage API keys (admin API with keys:manage, or a local --data-dir)');
  const withBackend = async <T>(opts: KeysOptions, cmd: Command, fn: (b: KeyBackend, g: GlobalOptions) => Promise<T>): Promise<T> => {
    const g = cmd.optsWithGlobals<GlobalOptions & KeysOptions>();
    const dir = opts.dataDir ?? g.dataDir;
    const backend = dir ? await offlineBackend(ctx, dir) : apiBackend(ctx, g);
    try {
      return await fn(backend, g);
    } finally {
      await backend.close();
    }
  };
  const dataDirHelp = 'operate on the SQLite data directory of a local host instead of the API (e.g. to create the first admin key)';

  keys
    .command('create')
    .description('create a key; prints its secret once')
    .option('--tenant <tenant>', "tenant of the key (default: the admin key's tenant; required with --data-dir)")
    .requiredOption('--scopes <list>', 'comma-separated scopes, or "all"')
    .option('--name <name>', 'a label for the key')
    .option('--expires-in <duration>', 'lifetime, e.g. 30d, 12h, 3600')
    .option('--data-dir <dir>', dataDirHelp)
    .action(async (opts: KeysOptions & { tenant?: string; scopes: string; name?: string; expiresIn?: string }, cmd: Command) => {
      const body = {
        scopes: opts.scopes
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
        ...(opts.tenant ? { tenant: opts.tenant } : {}),
        ...(opts.name ? { name: opts.name } : {}),
        ...(opts.expiresIn ? { expiresInSeconds: parseDuration(opts.expiresIn, '--expires-in') } : {}),
      };
      const k = await withBackend(opts, cmd, (b) => b.create(body));
      print(cmd.optsWithGlobals<GlobalOptions>().json ? JSON.stringify(k) : formatIssued(k, 'created'));
    });

  keys
    .command('list')
    .description('list keys (never their secrets)')
    .option('--tenant <tenant>', 'only this tenant (other tenants need the operator credential)')
    .option('--data-dir <dir>', dataDirHelp)
    .action(async (opts: KeysOptions & { tenant?: string }, cmd: Command) => {
      const all = await withBackend(opts, cmd, (b) => b.list(opts.tenant));
      print(cmd.optsWithGlobals<GlobalOptions>().json ? JSON.stringify({ keys: all }) : formatKeyList(all));
    });

  keys
    .command('rotate')
    .description('issue a successor (same tenant, principal and scopes); the old key works until the grace window ends')
    .argument('<keyId>')
    .option('--grace <duration>', 'how long the old key keeps working (default and minimum: the host setting, 24h)')
    .option('--expires-in <duration>', "the new key's lifetime (default: the old key's)")
    .option('--data-dir <dir>', dataDirHelp)
    .action(async (keyId: string, opts: KeysOptions & { grace?: string; expiresIn?: string }, cmd: Command) => {
      const body = {
        ...(opts.grace ? { graceSeconds: parseDuration(opts.grace, '--grace') } : {}),
        ...(opts.expiresIn ? { expiresInSeconds: parseDuration(opts.expiresIn, '--expires-in') } : {}),
      };
      const k = await withBackend(opts, cmd, (b) => b.rotate(keyId, body));
      print(cmd.optsWithGlobals<GlobalOptions>().json ? JSON.stringify(k) : formatIssued(k, 'rotated: new'));
    });

  keys
    .command('revoke')
    .description('revoke a key at once')
    .argument('<keyId>')
    .option('--data-dir <dir>', dataDirHelp)
    .action(async (keyId: string, opts: KeysOptions, cmd: Command) => {
      const k = await withBackend(opts, cmd, (b) => b.revoke(keyId));
      print(cmd.optsWithGlobals<GlobalOptions>().json ? JSON.stringify(k) : `revoked ${k.keyId} (tenant ${k.tenant})`);
    });
}
