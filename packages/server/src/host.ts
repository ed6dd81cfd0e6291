/**
 * `startHost(config)`: wires the store, engine, workflow sources and HTTP app, recovers runs
 * left by a previous process, and listens.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { aiNodeTypes, InProcessNotifier, NodeRegistry, RunEngine, type AiProviderConfig, type Notifier } from '@weft/engine';
import { PackError, checkPeerDependencies, packRuntimeCapability, registerPackNodes, type LoadedPack, type PackRuntime } from '@weft/packs';
import type { JsPackRuntime, WasmPackRuntime } from '@weft/sandbox';
import type { HostStore } from '@weft/store-kit';
import type { FastifyInstance } from 'fastify';
import { Redactor, TenantRedactors } from '@weft/security';
import pino, { type Logger } from 'pino';
import { buildApp } from './app.js';
import { ApiKeyAuthenticator } from './auth.js';
import type { ApiKeyConfig, HostConfig } from './config.js';
import type { HostContext } from './context.js';
import { SUPPORTED_FIXTURES, buildDiscovery } from './discovery.js';
import { InterruptTokens, loadTokenKeys } from './interrupt-tokens.js';
import { consoleNote, devKeyWithheldNote, skippedWorkflowsNote, unreadableDirNotes, type DevKeyWithheld } from './startup-notes.js';
import { loadWorkflowDirs, type WorkflowLoadResult } from './workflow-loader.js';
import { openSecurityServices } from './security-services.js';
import { createOutbound } from './outbound-config.js';
import { WebhookService } from './webhooks.js';
import { loadMasterKeys, type MasterKeys } from './master-key.js';
import { SecretVault } from './vault.js';
import type { HostVault } from './context.js';
import { loadConfiguredPacks } from './packs.js';
import { CodeNode } from './code-node.js';
import { sandboxCapabilities, startJsRuntime, startWasmRuntime } from './sandbox-config.js';
import { startRetentionSweeper } from './retention.js';
import { RunCorrelations, runTransitionLogger } from './request-log.js';
import type { HostTelemetry, TelemetryGauges } from './telemetry.js';

/** A running host. */
export interface RunningHost {
  url: string;
  port: number;
  app: FastifyInstance;
  engine: RunEngine;
  store: HostStore;
  logger: Logger;
  /** The secrets vault (its resolver is what node execution will call); absent when disabled. */
  vault?: HostVault;
  /** Webhook subscriptions and delivery; absent without a master key. */
  webhooks?: WebhookService;
  /** The verified node packs whose types are registered. */
  packs: readonly LoadedPack[];
  /** The JavaScript pack sandbox, when a JavaScript pack is loaded and the sandbox is on. */
  sandbox?: JsPackRuntime;
  /** The WASM pack sandbox, when a WASM pack is loaded and the sandbox is on. */
  wasmSandbox?: WasmPackRuntime;
  close(): Promise<void>;
}

/**
 * The node registry: the built-in types plus every verified pack's types, run by the attached
 * `runtimes` (a pack language without one keeps requiring `weft.packRuntime.<language>`).
 * @throws Error when a pack declares a typeId that is already registered
 */
export function nodeRegistryWith(
  packs: readonly LoadedPack[],
  runtimes: readonly PackRuntime[] = [],
  aiProviders: readonly AiProviderConfig[] = [],
): NodeRegistry {
  const registry = new NodeRegistry();
  // The LLM nodes and their conformance fixtures (decision 0022).
  for (const t of aiNodeTypes(new Map(aiProviders.map((p) => [p.id, p])))) registry.register(t);
  try {
    registerPackNodes(registry, packs, runtimes);
  } catch (e) {
    if (e instanceof PackError) throw new Error(`pack verification failed: ${e.code}: ${e.message}`, { cause: e });
    throw e;
  }
  return registry;
}

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** The package version, read once. */
export const WEFT_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();

/**
 * The notifier processes sharing the store wake each other through: Postgres `LISTEN/NOTIFY`,
 * or in-process for stores one process owns.
 */
export async function openNotifier(config: HostConfig): Promise<Notifier> {
  if (config.store !== 'postgres') return new InProcessNotifier();
  const { PostgresNotifier } = await import('@weft/store-postgres');
  return new PostgresNotifier({ connectionString: config.pgUrl as string });
}

/** Opens the configured store (SQLite under the data dir by default). */
export async function openStore(config: HostConfig): Promise<HostStore> {
  switch (config.store) {
    case 'memory': {
      const { MemoryHostStore } = await import('@weft/store-kit');
      return new MemoryHostStore();
    }
    case 'postgres': {
      const { PostgresStore } = await import('@weft/store-postgres');
      return new PostgresStore({ connectionString: config.pgUrl as string });
    }
    default: {
      mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
      const { SqliteStore } = await import('@weft/store-sqlite');
      return new SqliteStore({ path: join(config.dataDir, 'weft.db') });
    }
  }
}

/**
 * Why a host without configured keys must not generate a development key: one configured
 * for JWT bearers needs none (it would only be one more secret on stdout), nor does one whose
 * store already holds managed keys (bootstrapped with `weft keys create --data-dir`).
 */
async function devKeyWithheld(config: HostConfig, store: HostStore): Promise<DevKeyWithheld | undefined> {
  if (config.operatorKey) return { reason: 'operator-key' };
  if (config.oidcIssuers.length > 0) return { reason: 'jwt-issuers' };
  const count = (await store.listApiKeys()).length;
  return count > 0 ? { reason: 'managed-keys', count } : undefined;
}

/**
 * Reports the workflow load: on stderr for a person starting the host (one line per missing
 * directory, one summary of skipped files), as one log line each otherwise.
 */
function reportWorkflowLoad(report: WorkflowLoadResult, announce: boolean, logger: Logger): void {
  const lines = [...unreadableDirNotes(report), skippedWorkflowsNote(report)].filter((l): l is string => l !== undefined);
  if (announce) for (const l of lines) process.stderr.write(`${l}\n`);
  else for (const l of lines) logger.warn(l);
}

/** Bytes of log lines the stdout destination holds while its reader lags; past this, lines are dropped (never unbounded memory). */
export const LOG_BUFFER_MAX_BYTES = 16 * 1024 * 1024;
/** Log lines are written in batches of this many bytes (below sonic-boom's 16 KiB `maxWrite`)… */
export const LOG_BATCH_BYTES = 12 * 1024;
/** …or at least this often (ms), whichever comes first. */
export const LOG_FLUSH_MS = 100;

/**
 * The default log destination: stdout through an asynchronous sonic-boom that batches lines —
 * a write of {@link LOG_BATCH_BYTES} or every {@link LOG_FLUSH_MS} ms, so under load one syscall
 * (off the event loop) carries hundreds of lines and none is made on the request path. The
 * buffer is bounded by {@link LOG_BUFFER_MAX_BYTES}, and pino flushes it synchronously when the
 * process exits (its `exit` handler), so a shutdown or a fatal error loses nothing that was
 * logged. The flush timer is `unref`'d: it never keeps a process alive.
 */
export function stdoutDestination(): pino.DestinationStream {
  const dest = pino.destination({ dest: 1, sync: false, minLength: LOG_BATCH_BYTES, maxLength: LOG_BUFFER_MAX_BYTES });
  let pending = false;
  const write = dest.write.bind(dest);
  dest.write = (line: string): boolean => {
    pending = true;
    return write(line);
  };
  setInterval(() => {
    if (!pending) return;
    pending = false;
    try {
      dest.flush();
    } catch {
      // Destroyed (stdout closed): nothing left to write to.
    }
  }, LOG_FLUSH_MS).unref();
  return dest;
}

/**
 * Creates the logger: JSON lines, credentials redacted by path, and every line passed through
 * the redactor (credential shapes, known secret values) before it is written (to stdout through
 * {@link stdoutDestination} unless `destination` is given).
 */
export function createLogger(level: string, destination?: pino.DestinationStream, redactor: Redactor = new Redactor()): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'weft' },
    hooks: { streamWrite: (line) => redactor.redactJson(line) },
    redact: {
      paths: [
        'req.headers.authorization',
        'headers.authorization',
        'authorization',
        '*.apiKey',
        '*.key',
        'apiKeys',
        'config.apiKeys',
        'operatorKey',
        'config.operatorKey',
      ],
      censor: '[REDACTED]',
    },
  };
  return pino(options, destination ?? stdoutDestination());
}

/**
 * Opens the secrets vault when a master key is configured or can be defaulted (SQLite: generated
 * into the data directory; memory: per process), and says where the key came from. A Postgres
 * host without a configured key keeps the vault disabled (decision 0018).
 */
function openVault(
  keys: MasterKeys | undefined,
  config: HostConfig,
  store: HostStore,
  redactor: Redactor,
  logRedactor: Redactor,
  audit: HostContext['audit'],
  logger: Logger,
): HostVault | undefined {
  if (!keys) {
    logger.warn('WEFT_MASTER_KEY / WEFT_MASTER_KEY_FILE is not set: the secrets vault is disabled on this Postgres host');
    return undefined;
  }
  if (keys.source === 'generated') {
    const note = `Generated the vault master key ${keys.keyIds[0]} at ${keys.path} (0600). Back it up apart from the database: secrets cannot be read without it.`;
    if (config.announce) process.stderr.write(`${note}\n`);
    else logger.warn(note);
  } else {
    logger.info({ masterKeyIds: keys.keyIds, source: keys.source }, 'secrets vault open');
  }
  const redactors = new TenantRedactors(redactor, logRedactor);
  const service = new SecretVault(store, keys.manager, {
    audit,
    onResolved: ({ tenant, ref, value }) => redactors.register(tenant, value, ref),
  });
  return { service, resolver: service.resolver(), redactors, digestKey: keys.digestKey, source: keys.source };
}

/**
 * Host capabilities a pack of `language` may name in `peerDependencies`: `host.sandbox` when a
 * sandboxed runtime runs that language, `host.httpClient` when outbound HTTP is offered.
 */
export function providedPeerCapabilities(config: HostConfig, runtimes: readonly PackRuntime[], language: string): Set<string> {
  const provided = new Set<string>();
  if (runtimes.some((r) => r.language === language)) provided.add('host.sandbox');
  if (config.outboundEnabled) provided.add('host.httpClient');
  return provided;
}

/**
 * Refuses packs whose peer dependencies this host does not provide (a pack requiring
 * `host.sandbox` whose language no sandboxed runtime runs among them).
 * @throws Error `pack verification failed: pack_peer_dependency_…`
 */
function checkPacksAgainstHost(packs: readonly LoadedPack[], config: HostConfig, runtimes: readonly PackRuntime[], logger: Logger): void {
  for (const p of packs) {
    try {
      const degraded = checkPeerDependencies(p, providedPeerCapabilities(config, runtimes, p.manifest.runtime.language));
      if (degraded.length > 0) logger.warn({ pack: p.name, degraded }, 'pack loaded degraded: optional host capabilities missing');
    } catch (e) {
      if (e instanceof PackError) throw new Error(`pack verification failed: ${e.code}: ${e.message}`, { cause: e });
      throw e;
    }
  }
}

/** Starts a host and resolves once it listens. */
export async function startHost(config: HostConfig, opts: { logger?: Logger } = {}): Promise<RunningHost> {
  // The host's one redactor: credential shapes plus every secret value this process knows.
  // Master keys first: a malformed or weak key stops the host before anything is opened.
  const masterKeys = loadMasterKeys(config);
  const redactor = new Redactor();
  // Logs also scrub every value the vault resolves (for any tenant); tenant outputs scrub only
  // their own tenant's (see TenantRedactors).
  const logRedactor = redactor.withSecrets([]);
  const logger = opts.logger ?? createLogger(config.logLevel, undefined, logRedactor);
  // Packs first: a pack that fails verification stops the start before anything is opened.
  const packs = await loadConfiguredPacks(config, logger, config.announce);
  const sandbox = await startJsRuntime(config, packs);
  let wasmSandbox: WasmPackRuntime | undefined;
  const runtimes: PackRuntime[] = sandbox ? [sandbox] : [];
  try {
    wasmSandbox = await startWasmRuntime(config, packs);
    if (wasmSandbox) runtimes.push(wasmSandbox);
    checkPacksAgainstHost(packs, config, runtimes, logger);
  } catch (e) {
    await sandbox?.close();
    await wasmSandbox?.close();
    throw e;
  }
  const registry = nodeRegistryWith(packs, runtimes, config.aiProviders);
  // core.code runs in the same sandbox; its workers start on the first call.
  const codeNode = config.sandboxWorkers > 0 ? new CodeNode(config) : undefined;
  if (codeNode) registry.register(codeNode.type);
  const store = await openStore(config);
  await store.migrate();
  let keys: ApiKeyConfig[] = config.apiKeys;
  if (keys.length === 0 && config.generateDevKey) {
    const withheld = await devKeyWithheld(config, store);
    if (withheld) process.stdout.write(`${devKeyWithheldNote(withheld)}\n`);
    else {
      const key = `weft_dev_${randomBytes(24).toString('base64url')}`;
      keys = [{ tenant: 'default', key }];
      process.stdout.write(
        `No API keys configured: this process accepts a generated development key for tenant "default":\n  ${key}\n` +
          'Set WEFT_API_KEYS=tenant:key (key ≥ 16 characters) to choose your own; the generated key dies with the process.\n',
      );
    }
  }
  const auth = new ApiKeyAuthenticator(keys, config.operatorKey);
  for (const k of keys) redactor.addSecret(k.key);
  if (config.operatorKey) redactor.addSecret(config.operatorKey);
  const { audit, managedKeys } = await openSecurityServices(store, config, { logger });
  const vault = openVault(masterKeys, config, store, redactor, logRedactor, audit, logger);
  const tokenKeys = loadTokenKeys(config.interruptTokenKeys, config.store === 'sqlite' ? config.dataDir : undefined);
  if (tokenKeys.source === 'ephemeral' && config.store === 'postgres') {
    logger.warn('WEFT_INTERRUPT_TOKEN_KEYS is not set: interrupt tokens are signed with a per-process key and die with it');
  }
  for (const k of tokenKeys.keys) redactor.addSecret(k.secret.toString('utf8'));
  const tokens = new InterruptTokens(tokenKeys.keys, config.interruptTokenTtlMs);
  const notifier = await openNotifier(config);
  // Webhook secrets are sealed with the vault's master key: no key, no webhooks (decision 0019).
  const webhooks = masterKeys
    ? new WebhookService({
        store,
        keys: masterKeys.manager,
        notifier,
        allow: config.webhookAllow,
        ports: config.outboundPorts,
        timeoutMs: config.webhookTimeoutMs,
        retryBaseMs: config.webhookRetryBaseMs,
        deadLetteredAfter: config.webhookDeadLetteredAfter,
        mintToken: (c, deadline) => tokens.mint(c, Date.now(), deadline),
        version: WEFT_VERSION,
        warn: (o, m) => logger.warn(o, m),
      })
    : undefined;
  if (!webhooks) logger.warn('webhooks are disabled on this Postgres host: their secrets need WEFT_MASTER_KEY / WEFT_MASTER_KEY_FILE');
  // Telemetry only when configured: otherwise the engine and the app get none and do no work.
  let gauges: TelemetryGauges = { runnable: () => 0, openSseStreams: () => 0 };
  const telemetry = config.telemetry
    ? new (await import('./telemetry.js')).HostTelemetry(config.telemetry, WEFT_VERSION, {
        runnable: () => gauges.runnable(),
        openSseStreams: () => gauges.openSseStreams(),
      })
    : undefined;
  // One log line per run transition (request-log.ts), before the webhooks hear of the append.
  const runCorrelations = new RunCorrelations();
  const runLines = runTransitionLogger(logger, runCorrelations);
  const engine = new RunEngine({
    store,
    notifier,
    limits: { maxNodeExecutions: config.maxNodeExecutions, maxRunDurationMs: config.maxRunDurationMs },
    leaseTtlMs: config.leaseTtlMs,
    logger: logger.child({ component: 'engine' }),
    redactor,
    outbound: createOutbound(config, `weft/${WEFT_VERSION}`),
    registry,
    runtimeCapabilities: runtimes.map((r) => packRuntimeCapability(r.language)),
    committed: webhooks ? both(runLines, webhooks.onCommitted) : runLines,
    ...(webhooks ? { outbox: webhooks.outboxRows } : {}),
    // Secrets resolve into nodes that declare requiresSecrets; each run's redactor is its
    // tenant's, so every value resolved for the tenant is scrubbed from its events.
    ...(vault ? { secrets: vault.resolver, redactorFor: (tenant: string) => vault.redactors.for(tenant) } : {}),
    ...(telemetry ? { telemetry } : {}),
  });
  const dirs = config.workflowsDirs.length > 0 ? config.workflowsDirs : [join(repoRoot, 'examples', 'workflows')].filter((d) => existsSync(d));
  reportWorkflowLoad(await loadWorkflowDirs(engine, dirs, logger), config.announce, logger);

  let fixtures: string[] = [];
  const refreshFixtures = async (): Promise<void> => {
    const all = await store.listWorkflows();
    fixtures = all
      .filter((w) => SUPPORTED_FIXTURES.has(w.id) && engine.catalog.runnability(w.definition).runnable)
      .map((w) => w.id)
      .sort();
  };
  await refreshFixtures();
  const ctx: HostContext = {
    engine,
    ...(telemetry ? { telemetry } : {}),
    store,
    config,
    version: WEFT_VERSION,
    discovery: () =>
      buildDiscovery({
        config,
        version: WEFT_VERSION,
        fixtures,
        runtimeCapabilities: [...engine.runtimeCapabilities],
        auth: [managedKeys.advertisement(), audit.advertisement()],
        vault: vault !== undefined,
        extra: sandboxCapabilities(sandbox, packs, config.packsGrantNet === true, wasmSandbox),
        webhooks: webhooks !== undefined,
        aiProviders: config.aiProviders,
        telemetry: telemetry !== undefined,
      }),
    workflowsChanged: refreshFixtures,
    tokens,
    audit,
    managedKeys,
    redactor,
    ...(vault ? { vault } : {}),
    ...(webhooks ? { webhooks } : {}),
    packs,
    runCorrelations,
  };
  const app = buildApp(ctx, auth, logger);
  await webhooks?.start();
  gauges = { runnable: () => engine.activeRuns, openSseStreams: () => app.loadGauges.sseStreams };
  await engine.start();
  const stopSweeper = startRetentionSweeper(store, { retentionMs: config.runRetentionMs, intervalMs: config.retentionSweepMs, logger });
  await app.listen({ host: config.host, port: config.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const hostPart = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `${config.tlsCert ? 'https' : 'http'}://${hostPart}:${port}`;
  if (config.announce) {
    const where = config.store === 'sqlite' ? ` at ${join(config.dataDir, 'weft.db')}` : '';
    process.stdout.write(`Weft ${WEFT_VERSION} listening on ${url} (store: ${config.store}${where})\n`);
    const note = consoleNote(config, url);
    if (note) process.stdout.write(`${note}\n`);
  }
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    app,
    engine,
    store,
    logger,
    ...(vault ? { vault } : {}),
    ...(webhooks ? { webhooks } : {}),
    packs,
    ...(sandbox ? { sandbox } : {}),
    ...(wasmSandbox ? { wasmSandbox } : {}),
    close() {
      closing ??= shutdown({
        app,
        engine,
        webhooks,
        store,
        notifier,
        audit,
        logger,
        timeoutMs: config.shutdownTimeoutMs,
        stopPurge: stopSweeper,
        telemetry,
        sandboxes: [sandbox, wasmSandbox, codeNode].filter((s): s is JsPackRuntime | WasmPackRuntime | CodeNode => s !== undefined),
      });
      return closing;
    },
  };
}

/** Both listeners of an append, in order. */
function both<A extends unknown[]>(a: (...args: A) => void, b: (...args: A) => void): (...args: A) => void {
  return (...args) => {
    a(...args);
    b(...args);
  };
}

/** Resolves true when `p` settles within `ms`, false otherwise (`p` keeps running). */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms))));
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      expired,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Clean shutdown, bounded by `timeoutMs` overall: stop accepting (new requests get 503 in the
 * envelope; see app.ts), end SSE streams and answer long-polls (routes/events.ts), wait for
 * in-flight requests, stop the engine (running steps finish or are aborted; the log keeps the
 * rest), release this process's leases, close the audit log and the store. Past the deadline
 * the remaining connections are cut and the steps abandoned — recovery resumes them.
 *
 * @see ../../../docs/operations.md §Shutdown
 */
async function shutdown(h: {
  app: FastifyInstance;
  engine: RunEngine;
  webhooks: WebhookService | undefined;
  store: HostStore;
  notifier: Notifier;
  audit: { close(): Promise<void> };
  logger: Logger;
  timeoutMs: number;
  stopPurge: () => Promise<void>;
  sandboxes: { close(): Promise<void> }[];
  telemetry: HostTelemetry | undefined;
}): Promise<void> {
  const deadline = Date.now() + h.timeoutMs;
  const left = (): number => deadline - Date.now();
  await h.stopPurge();
  const http = h.app.close();
  if (!(await settlesWithin(http, left()))) {
    h.logger.warn('shutdown: requests still open at the deadline; closing their connections');
    h.app.server.closeAllConnections();
    await http;
  }
  if (!(await settlesWithin(h.engine.stop(), left()))) h.logger.warn('shutdown: run steps still busy at the deadline; recovery will resume them');
  for (const s of h.sandboxes) await s.close().catch(() => undefined);
  if (h.webhooks && !(await settlesWithin(h.webhooks.stop(), left()))) h.logger.warn('shutdown: webhook deliveries still in flight at the deadline');
  await h.store.releaseLeases?.(h.engine.ownerId).catch((e: unknown) => h.logger.warn({ err: String(e) }, 'shutdown: could not release leases'));
  await h.notifier.close().catch(() => undefined);
  await h.audit.close();
  await h.store.close();
  // Last: the spans and metrics of everything above are flushed, then the log lines.
  await h.telemetry?.shutdown();
  await settlesWithin(new Promise<void>((resolve) => h.logger.flush(() => resolve())), 1000);
}
