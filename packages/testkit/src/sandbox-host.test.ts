/**
 * A host started with a signed JavaScript pack runs its nodes in the sandbox, end to end over
 * HTTP: the example pack in examples/packs (signed here with a key the test generates) runs a
 * workflow to completion; a misbehaving pack node fails its run with the sandbox's code while
 * other runs keep completing; discovery advertises the sandbox; and a pack that requires the
 * sandbox is refused by a host that runs none. A signed WASM pack runs the same way, and one
 * importing outside the ABI stops the start.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createAjv } from '@weft/contract';
import { signManifest } from '@weft/packs';
import { loadConfig, startHost, type HostConfig, type RunningHost } from '@weft/server';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { newSigner, tempDir, testKeychain, testManifest, testPackFiles, writePackDir } from './pack-fixtures.js';
import { createTestDatabase, stopTestDatabases, type TestDatabase } from './pg.js';
import { REPO_ROOT } from './test-host.js';
import { WASM_TEST_NODES, wasmModule } from './wasm-fixture.js';

const KEY = 'sandbox-tenant-key-0123456789abcdef';
const hosts: RunningHost[] = [];
const databases: TestDatabase[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
  for (const d of databases.splice(0)) await d.drop();
});
afterAll(() => stopTestDatabases());

const example = newSigner('example-1');
const acme = newSigner('acme-1');

/** A copy of examples/packs/vendor.example.text, signed with the test's key. */
async function signedExample(): Promise<{ dir: string; keychain: string }> {
  const dir = join(await tempDir(), 'vendor.example.text');
  await cp(join(REPO_ROOT, 'examples', 'packs', 'vendor.example.text'), dir, { recursive: true });
  const sig = signManifest(await readFile(join(dir, 'pack.json')), example.privateKeyPem);
  await writePackDir(new Map([['keys/pack.json.sig', sig]]), dir);
  const keychain = join(await tempDir(), 'keychain.json');
  await writeFile(
    keychain,
    JSON.stringify(
      testKeychain([
        { signer: example, namespaces: ['vendor.example.*'] },
        { signer: acme, namespaces: ['vendor.acme.*'] },
      ]),
    ),
  );
  return { dir, keychain };
}

/** Validates a discovery document against the official capabilities schema (when the contracts are present). */
function checkDiscovery(doc: unknown): void {
  const dir = join(process.env.WEFT_CONTRACTS_DIR ?? '', 'schemas');
  if (!existsSync(join(dir, 'capabilities.schema.json'))) return;
  const ajv = createAjv();
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.json') ? [join(d, e.name)] : []));
  for (const f of walk(dir)) {
    try {
      ajv.addSchema(JSON.parse(readFileSync(f, 'utf8')) as object);
    } catch {
      // a duplicate $id between copies: the first one stays
    }
  }
  const id = (JSON.parse(readFileSync(join(dir, 'capabilities.schema.json'), 'utf8')) as { $id: string }).$id;
  const validate = ajv.getSchema(id);
  expect(validate).toBeDefined();
  expect(validate?.(doc), JSON.stringify(validate?.errors)).toBe(true);
}

async function database(): Promise<string> {
  const db = await createTestDatabase();
  databases.push(db);
  return db.url;
}

async function start(overrides: Partial<HostConfig>): Promise<RunningHost> {
  const host = await startHost(
    loadConfig(
      {},
      {
        host: '127.0.0.1',
        port: 0,
        store: 'memory',
        apiKeys: [{ tenant: 't', key: KEY }],
        generateDevKey: false,
        workflowsDirs: [],
        logLevel: 'silent',
        announce: false,
        ...overrides,
      },
    ),
  );
  hosts.push(host);
  return host;
}

async function call(host: RunningHost, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${host.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json', 'idempotency-key': `k-${Math.random()}` }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function waitForTerminal(host: RunningHost, runId: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 20_000;
  let last: number | undefined;
  for (;;) {
    const run = await call(host, 'GET', `/v1/runs/${runId}`);
    if (['completed', 'failed', 'cancelled'].includes(String(run.body.status))) return run.body;
    if (Date.now() > deadline) throw new Error(`run ${runId} did not finish`);
    // Long-poll: answers as soon as the run appends an event (never a sleep here).
    const r = await call(host, 'GET', `/v1/runs/${runId}/events/poll?timeout=2${last === undefined ? '' : `&lastSequence=${last}`}`);
    const events = (r.body.events ?? []) as { sequence: number }[];
    if (events.length > 0) last = (events.at(-1) as { sequence: number }).sequence;
  }
}

const workflow = (id: string, typeId: string): Record<string, unknown> => ({
  id,
  name: id,
  version: '1.0',
  nodes: [{ id: 'step', typeId, name: 'step', position: { x: 0, y: 0 }, config: {}, inputs: {} }],
  edges: [],
  triggers: [{ id: 'manual', type: 'manual', enabled: true }],
  variables: [],
  metadata: {},
  settings: {},
});

describe('a host running pack code in the sandbox', () => {
  it.each(['memory', 'sqlite', 'postgres'] as const)(
    'runs the signed example pack’s JavaScript nodes in a workflow to completion on %s, and advertises the sandbox',
    async (store) => {
      const { dir, keychain } = await signedExample();
      const host = await start({
        packs: [dir],
        packsKeychain: keychain,
        workflowsDirs: [join(REPO_ROOT, 'examples', 'packs', 'workflows')],
        store,
        ...(store === 'sqlite' ? { dataDir: await tempDir('weft-sandbox-db-') } : {}),
        ...(store === 'postgres' ? { pgUrl: await database() } : {}),
      });
      expect(host.sandbox).toBeDefined();
      const run = await call(host, 'POST', '/v1/runs', { workflowId: 'example-text', inputs: { title: 'Héllo, Wörld — a Weft pack!' } });
      expect(run.status, JSON.stringify(run.body)).toBe(201);
      const done = await waitForTerminal(host, String(run.body.runId));
      expect(done.status, JSON.stringify(done.error)).toBe('completed');
      const events = await call(host, 'GET', `/v1/runs/${String(run.body.runId)}/events/poll?timeout=0`);
      const completed = (events.body.events as { type: string; nodeId?: string; payload: { outputs?: unknown } }[]).filter((e) => e.type === 'node.completed');
      expect(completed.map((e) => e.payload.outputs)).toEqual([{ slug: 'hello-world-a-weft-pack' }, { words: 6 }]);

      const discovery = (await (await fetch(`${host.url}/.well-known/openwop`)).json()) as Record<string, unknown>;
      expect(discovery.sandbox).toEqual({ supported: true, isolationModel: 'wasm', allowedHostCalls: [], memoryLimitBytes: 67108864, wallClockLimitMs: 10000 });
      expect(discovery.nodePackRuntimes).toEqual({ javascript: { supported: true, engine: 'quickjs', loadedPacks: ['vendor.example.text'] } });
      expect(discovery.runtimeCapabilities).toEqual(['weft.packRuntime.javascript']);
      checkDiscovery(discovery);
    },
  );

  it('invariant: node-pack-sandbox-timeout — a hanging pack node fails its run with sandbox_timeout while other runs complete', async () => {
    const { dir, keychain } = await signedExample();
    const manifest = testManifest('vendor.acme.bad', { keyId: 'acme-1', types: ['spin', 'env'] });
    const files = testPackFiles(manifest, acme, {
      'dist/index.js': "export default { 'vendor.acme.spin': () => { for (;;) {} }, 'vendor.acme.env': () => ({ outputs: { env: process.env } }) };\n",
    });
    const bad = await writePackDir(files);
    const host = await start({
      packs: [dir, bad],
      packsKeychain: keychain,
      sandboxTimeoutMs: 500,
      workflowsDirs: [join(REPO_ROOT, 'examples', 'packs', 'workflows')],
    });
    for (const [id, type] of [
      ['spin', 'vendor.acme.spin'],
      ['env', 'vendor.acme.env'],
    ]) {
      expect((await call(host, 'POST', '/v1/host/weft/workflows', workflow(id as string, type as string))).status).toBe(201);
    }
    const spin = await call(host, 'POST', '/v1/runs', { workflowId: 'spin', inputs: {} });
    const env = await call(host, 'POST', '/v1/runs', { workflowId: 'env', inputs: {} });
    const good = await call(host, 'POST', '/v1/runs', { workflowId: 'example-text', inputs: {} });
    const [s, e, g] = await Promise.all([spin, env, good].map((r) => waitForTerminal(host, String(r.body.runId))));
    expect(s?.status).toBe('failed');
    expect(s?.error).toMatchObject({ code: 'sandbox_timeout' });
    expect(e?.status).toBe('failed');
    expect(e?.error).toMatchObject({ code: 'sandbox_capability_denied', message: expect.stringContaining('process') });
    expect(g?.status).toBe('completed');
  });

  it('invariant: node-pack-sandbox-required — a pack requiring host.sandbox is refused by a host that runs no sandbox', async () => {
    const { dir, keychain } = await signedExample();
    await expect(start({ packs: [dir], packsKeychain: keychain, sandboxWorkers: 0 })).rejects.toThrow(
      /^pack verification failed: pack_peer_dependency_missing: .*host\.sandbox/,
    );
  });

  it.each(['memory', 'sqlite', 'postgres'] as const)(
    'invariant: node-pack-sandbox-memory-cap — a signed WASM pack node runs over HTTP on %s; its memory bomb emits cap.breached{kind: "wasm-memory"} before node.failed sandbox_memory_exceeded (a busy loop: wasm-execution-time, sandbox_timeout); nodePackRuntimes.wasm advertises maxMemoryBytes',
    async (store) => {
      const manifest = testManifest('vendor.acme.wasm', { keyId: 'acme-1', types: ['ok', 'grow', 'spin'] });
      manifest.runtime = { language: 'wasm', entry: 'dist/pack.wasm', format: 'wasm' };
      const files = testPackFiles(manifest, acme, { 'dist/pack.wasm': Buffer.from(wasmModule()) });
      files.delete('dist/index.js');
      const { keychain } = await signedExample();
      const host = await start({
        packs: [await writePackDir(files)],
        packsKeychain: keychain,
        sandboxMemoryBytes: 2 * 1024 * 1024,
        sandboxTimeoutMs: 1000,
        store,
        ...(store === 'sqlite' ? { dataDir: await tempDir('weft-sandbox-db-') } : {}),
        ...(store === 'postgres' ? { pgUrl: await database() } : {}),
      });
      for (const type of WASM_TEST_NODES)
        expect((await call(host, 'POST', '/v1/host/weft/workflows', workflow(type.replace('vendor.acme.', 'wasm-'), type))).status).toBe(201);
      const ok = await call(host, 'POST', '/v1/runs', { workflowId: 'wasm-ok', inputs: {} });
      const bomb = await call(host, 'POST', '/v1/runs', { workflowId: 'wasm-grow', inputs: {} });
      const spin = await call(host, 'POST', '/v1/runs', { workflowId: 'wasm-spin', inputs: {} });
      const [o, b, sp] = await Promise.all([ok, bomb, spin].map((r) => waitForTerminal(host, String(r.body.runId))));
      expect(o?.status, JSON.stringify(o?.error)).toBe('completed');
      expect(b?.status).toBe('failed');
      expect(b?.error).toMatchObject({ code: 'sandbox_memory_exceeded' });
      const events = (await call(host, 'GET', `/v1/runs/${String(bomb.body.runId)}/events/poll?timeout=0`)).body.events as {
        type: string;
        nodeId?: string;
        payload: Record<string, unknown>;
      }[];
      expect(events.map((e) => e.type).slice(-3)).toEqual(['cap.breached', 'node.failed', 'run.failed']);
      const [cap, failed] = events.slice(-3);
      // observed: the least a refused grow can have asked for — the cap plus one page (strictly over the limit).
      expect(cap?.payload).toEqual({ kind: 'wasm-memory', limit: 2 * 1024 * 1024, observed: 2 * 1024 * 1024 + 65536, nodeId: 'step' });
      expect(cap?.nodeId).toBe('step');
      expect(failed?.payload).toMatchObject({ nodeId: 'step', error: { code: 'sandbox_memory_exceeded', details: { kind: 'wasm-memory' } } });
      // The good run emitted no cap event.
      const okEvents = (await call(host, 'GET', `/v1/runs/${String(ok.body.runId)}/events/poll?timeout=0`)).body.events as { type: string }[];
      expect(okEvents.some((e) => e.type === 'cap.breached')).toBe(false);
      // A busy loop is terminated at the WASM wall-clock cap: cap.breached{kind: "wasm-execution-time"}, then sandbox_timeout.
      expect(sp?.error).toMatchObject({ code: 'sandbox_timeout' });
      const spinEvents = (await call(host, 'GET', `/v1/runs/${String(spin.body.runId)}/events/poll?timeout=0`)).body.events as {
        type: string;
        payload: Record<string, unknown>;
      }[];
      expect(spinEvents.map((e) => e.type).slice(-3)).toEqual(['cap.breached', 'node.failed', 'run.failed']);
      const time = spinEvents.at(-3)?.payload as { kind: string; limit: number; observed: number; nodeId: string };
      expect([time.kind, time.limit, time.nodeId]).toEqual(['wasm-execution-time', 1000, 'step']);
      expect(time.observed).toBeGreaterThan(1000);
      const discovery = (await (await fetch(`${host.url}/.well-known/openwop`)).json()) as Record<string, unknown>;
      expect(discovery.nodePackRuntimes).toEqual({
        wasm: { supported: true, abiVersions: [1], maxMemoryBytes: 2 * 1024 * 1024, loadedPacks: ['vendor.acme.wasm'] },
      });
      expect(discovery.sandbox).toMatchObject({ supported: true, isolationModel: 'wasm', memoryLimitBytes: 2 * 1024 * 1024 });
      expect(discovery.runtimeCapabilities).toEqual(['weft.packRuntime.wasm']);
      checkDiscovery(discovery);
    },
  );

  it('invariant: node-pack-sandbox-no-process — a WASM pack importing outside the openwop ABI stops the start', async () => {
    const manifest = testManifest('vendor.acme.wasm', { keyId: 'acme-1', types: ['ok', 'grow', 'spin'] });
    manifest.runtime = { language: 'wasm', entry: 'dist/pack.wasm', format: 'wasm' };
    const files = testPackFiles(manifest, acme, { 'dist/pack.wasm': Buffer.from(wasmModule({ imports: [['env', 'system']] })) });
    const { keychain } = await signedExample();
    await expect(start({ packs: [await writePackDir(files)], packsKeychain: keychain })).rejects.toThrow(
      /^pack verification failed: sandbox_capability_denied: .*env\.system/,
    );
  });
});
