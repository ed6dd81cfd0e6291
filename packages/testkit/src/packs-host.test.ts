/**
 * A host started with node packs: verified packs' types are accepted at workflow registration,
 * unknown types are still refused (and named), running a pack node without a runtime fails
 * with a clear code before the node starts, and a pack that fails verification stops the start.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig, startHost, type HostConfig, type RunningHost } from '@weft/server';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  newSigner,
  startTestRegistry,
  tempDir,
  testKeychain,
  testManifest,
  testPackFiles,
  testTarball,
  writePackDir,
  type TestRegistry,
} from './pack-fixtures.js';
import { signManifest } from '@weft/packs';

const KEY = 'packs-tenant-key-0123456789abcdef';
const acme = newSigner('acme-1');
const hosts: RunningHost[] = [];
let registry: TestRegistry | undefined;
let err: string[];

beforeEach(() => {
  err = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (err.push(String(chunk)), true));
});

afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
  await registry?.close();
  registry = undefined;
  vi.restoreAllMocks();
});

async function keychainFile(): Promise<string> {
  const p = join(await tempDir(), 'keychain.json');
  await writeFile(p, JSON.stringify(testKeychain([{ signer: acme, namespaces: ['vendor.acme.*'] }])));
  return p;
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

async function call(host: RunningHost, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${host.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json', 'idempotency-key': `k-${Math.random()}` }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function waitForTerminal(host: RunningHost, runId: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 10_000;
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

describe('a host with node packs', () => {
  it('invariant: node-pack-sig-host-verify — accepts a workflow using a verified pack type, names unknown types, and fails its run with capability_not_provided', async () => {
    const dir = await writePackDir(testPackFiles(testManifest('vendor.acme.tools', { keyId: 'acme-1', types: ['echo', 'shout'] }), acme));
    const host = await start({ packs: [dir], packsKeychain: await keychainFile(), sandboxWorkers: 0 });
    expect(host.packs.map((p) => `${p.name}@${p.version}`)).toEqual(['vendor.acme.tools@1.0.0']);

    const ok = await call(host, 'POST', '/v1/host/weft/workflows', workflow('uses-pack', 'vendor.acme.echo'));
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    const unknown = await call(host, 'POST', '/v1/host/weft/workflows', workflow('uses-missing', 'vendor.acme.missing'));
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('workflow_invalid');
    expect((unknown.body.details as { unknownTypes: string[] }).unknownTypes).toEqual(['vendor.acme.missing']);

    const run = await call(host, 'POST', '/v1/runs', { workflowId: 'uses-pack', inputs: {} });
    expect(run.status).toBe(201);
    const done = await waitForTerminal(host, String(run.body.runId));
    expect(done.status).toBe('failed');
    expect(done.error).toMatchObject({ code: 'capability_not_provided', details: { capability: 'weft.packRuntime.javascript', nodeId: 'step' } });
  });

  it('serves the loaded packs on the public /v1/packs read side: list, search, catalog entry, version manifest and raw signature', async () => {
    const files = testPackFiles(testManifest('vendor.acme.tools', { keyId: 'acme-1', version: '1.4.0' }), acme);
    const host = await start({ packs: [await writePackDir(files)], packsKeychain: await keychainFile(), sandboxWorkers: 0 });
    const integrity = host.packs[0]?.integrity;
    const view = {
      name: 'vendor.acme.tools',
      version: '1.4.0',
      description: 'A test pack.',
      license: 'Apache-2.0',
      integrity,
      typeIds: ['vendor.acme.echo'],
      runtime: 'javascript',
      signed: true,
      signingKeyId: 'acme-1',
      trustMode: 'verified',
    };
    const list = await fetch(`${host.url}/v1/packs`);
    expect(await list.json()).toEqual({ packs: [view] });
    expect(await (await fetch(`${host.url}/v1/packs/-/search?q=echo`)).json()).toEqual({ results: [view] });
    expect(await (await fetch(`${host.url}/v1/packs/vendor.acme.tools`)).json()).toEqual({
      name: 'vendor.acme.tools',
      versions: { '1.4.0': view },
      'dist-tags': { latest: '1.4.0' },
    });
    const manifest = (await (await fetch(`${host.url}/v1/packs/vendor.acme.tools/-/1.4.0.json`)).json()) as Record<string, unknown>;
    expect(manifest).toMatchObject({ name: 'vendor.acme.tools', version: '1.4.0', integrity, signing: { method: 'manual', publicKeyRef: 'acme-1' } });
    const sig = await fetch(`${host.url}/v1/packs/vendor.acme.tools/-/1.4.0.sig`);
    expect(sig.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await sig.arrayBuffer()).equals(files.get('keys/pack.json.sig') as Buffer)).toBe(true);
    expect((await fetch(`${host.url}/v1/packs/vendor.acme.tools/-/1.3.0.json`)).status).toBe(404);
    // Nothing about pack execution is advertised while no runtime (sandbox) is attached.
    const discovery = (await (await fetch(`${host.url}/.well-known/openwop`)).json()) as { capabilities?: Record<string, unknown> } & Record<string, unknown>;
    for (const key of ['packs', 'nodePackRuntimes', 'sandbox']) {
      expect(discovery[key], key).toBeUndefined();
      expect(discovery.capabilities?.[key], key).toBeUndefined();
    }
    expect(JSON.stringify(discovery)).not.toContain('weft.packRuntime');
  });

  it('invariant: node-pack-sig-host-verify — refuses to start when a configured pack fails verification, naming the source and the code', async () => {
    const files = testPackFiles(testManifest('vendor.acme.tools', { keyId: 'acme-1' }), acme);
    files.set('pack.json', Buffer.from((files.get('pack.json') as Buffer).toString().replace('A test pack.', 'Tampered.')));
    const dir = await writePackDir(files);
    await expect(start({ packs: [dir], packsKeychain: await keychainFile() })).rejects.toThrow(
      new RegExp(`^pack verification failed: pack_signature_invalid: ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `),
    );
  });

  it('invariant: node-pack-open-mode-logged — open trust mode loads unsigned packs and says so loudly', async () => {
    const dir = await writePackDir(testPackFiles(testManifest('vendor.acme.tools')));
    const host = await start({ packs: [dir], packsTrust: 'open', announce: true });
    expect(host.packs).toHaveLength(1);
    expect(err.join('')).toMatch(/WARNING: WEFT_PACKS_TRUST=open: .*Development only/);
  });

  it('invariant: node-pack-sig-host-verify — loads a pack from a loopback registry with its keychain, and refuses the start when the registry serves a tampered archive', async () => {
    const files = testPackFiles(testManifest('vendor.acme.tools', { keyId: 'acme-1' }));
    const { tgz } = testTarball(files);
    const signature = signManifest(files.get('pack.json') as Buffer, acme.privateKeyPem);
    registry = await startTestRegistry(
      [{ name: 'vendor.acme.tools', version: '1.0.0', tgz, signature, keyId: 'acme-1' }],
      [{ signer: acme, namespaces: ['vendor.acme.*'] }],
    );
    const host = await start({ packs: ['vendor.acme.tools@1.0.0'], packsRegistry: registry.url });
    expect(host.packs[0]?.trust.verifiedBy).toBe('acme-1');
    await host.close();
    hosts.splice(0);
    await registry.close();

    const evil = testTarball(testPackFiles(testManifest('vendor.acme.tools', { keyId: 'acme-1', extra: { description: 'evil' } }))).tgz;
    registry = await startTestRegistry(
      [{ name: 'vendor.acme.tools', version: '1.0.0', tgz, servedTgz: evil, signature, keyId: 'acme-1' }],
      [{ signer: acme, namespaces: ['vendor.acme.*'] }],
    );
    await expect(start({ packs: ['vendor.acme.tools@1.0.0'], packsRegistry: registry.url })).rejects.toThrow(
      /^pack verification failed: pack_integrity_mismatch: /,
    );
  });

  it('refuses pinned mode without a lockfile and allowlist mode without a list at configuration', () => {
    expect(() => loadConfig({ WEFT_PACKS: './p', WEFT_PACKS_TRUST: 'pinned' })).toThrow(/needs WEFT_PACKS_LOCK/);
    expect(() => loadConfig({ WEFT_PACKS: './p', WEFT_PACKS_TRUST: 'allowlist' })).toThrow(/needs WEFT_PACKS_ALLOW/);
    expect(() => loadConfig({ WEFT_PACKS_TRUST: 'yolo' })).toThrow(/WEFT_PACKS_TRUST must be one of/);
  });
});
