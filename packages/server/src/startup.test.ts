import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig, type HostConfig } from './config.js';
import { openStore, startHost, type RunningHost } from './host.js';
import { openSecurityServices } from './security-services.js';

const EXAMPLES = new URL('../../../examples/workflows', import.meta.url).pathname;
const KEY = 'startup-tenant-key-0123456789abcdef';

let dir: string;
let out: string[];
let err: string[];
const hosts: RunningHost[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'weft-startup-'));
  out = [];
  err = [];
  // The start-up lines go to the process streams: capture them for the assertions (nothing
  // reaches the terminal while a test runs).
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (err.push(String(chunk)), true));
});

afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

function config(overrides: Partial<HostConfig>): HostConfig {
  return loadConfig(
    {},
    {
      host: '127.0.0.1',
      port: 0,
      store: 'memory',
      dataDir: join(dir, 'data'),
      apiKeys: [{ tenant: 't', key: KEY }],
      generateDevKey: false,
      workflowsDirs: [EXAMPLES],
      logLevel: 'silent',
      announce: true,
      ...overrides,
    },
  );
}

async function start(overrides: Partial<HostConfig>): Promise<RunningHost> {
  const host = await startHost(config(overrides));
  hosts.push(host);
  return host;
}

const mode = (file: string): number => statSync(file).mode & 0o777;

describe('start-up output', () => {
  it('summarizes unloadable workflow files in one line and names a missing workflow directory', async () => {
    const wf = join(dir, 'wf');
    mkdirSync(wf);
    writeFileSync(join(wf, 'broken.json'), '{ not json');
    writeFileSync(join(wf, 'invalid.json'), JSON.stringify({ id: 'invalid', nodes: 'no' }));
    const hello = JSON.parse(readFileSync(join(EXAMPLES, 'weft-hello.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(wf, 'ok.json'), JSON.stringify({ ...hello, id: 'startup-ok' }));
    const host = await start({ workflowsDirs: [wf, join(dir, 'missing')] });
    expect(await host.engine.catalog.get('startup-ok')).toBeDefined();
    const lines = err.join('').split('\n').filter(Boolean);
    expect(lines.filter((l) => l.includes('broken.json') || l.includes('invalid.json'))).toEqual([
      'Skipped 2 of 3 workflow files that do not validate or need features this host lacks (broken.json, invalid.json); WEFT_LOG_LEVEL=debug logs the reason for each.',
    ]);
    expect(lines.filter((l) => l.startsWith('Workflow directory'))).toEqual([
      expect.stringContaining(`${join(dir, 'missing')} not found: nothing was loaded from it`),
    ]);
    expect(lines).toHaveLength(2);
  });

  it('prints no workflow note when every file loads', async () => {
    await start({});
    expect(err.join('')).toBe('');
    expect(out.join('')).toMatch(
      /^Weft \S+ listening on http:\/\/127\.0\.0\.1:\d+ \(store: memory\)\nConsole: (http:\/\/127\.0\.0\.1:\d+\/console|not built .*)\n$/,
    );
  });

  it('prints the console URL after the listening line, or says how to build it', async () => {
    const built = await start({ consoleDir: EXAMPLES.replace(/workflows$/, 'missing-console-build') });
    expect(out.join('')).toContain(
      `Console: not built (no index.html in ${EXAMPLES.replace(/workflows$/, 'missing-console-build')}); run \`npm run build -w @weft/console\``,
    );
    out.length = 0;
    await start({ console: false });
    expect(out.join('')).not.toContain('Console:');
    expect(built.url).toMatch(/^http:/);
  });

  it('says why no development key is printed when the store already holds managed keys', async () => {
    // Bootstrap one managed key offline, the way `weft keys create --data-dir` does.
    const cfg = config({ store: 'sqlite', apiKeys: [] });
    const store = await openStore(cfg);
    await store.migrate();
    const { audit, managedKeys } = await openSecurityServices(store, cfg, { timers: false });
    await managedKeys.create({ tenant: 'acme', name: 'admin', scopes: ['keys:manage'] }, { principal: 'operator' });
    await audit.close();
    await store.close();

    await start({ store: 'sqlite', apiKeys: [], generateDevKey: true });
    const text = out.join('');
    expect(text).toContain('No WEFT_API_KEYS configured and no development key generated: the store already holds 1 managed API key');
    expect(text).not.toMatch(/weft_dev_/);
  });

  it('prints a generated development key when there is no key at all', async () => {
    await start({ apiKeys: [], generateDevKey: true });
    expect(out.join('')).toMatch(/development key for tenant "default":\n {2}weft_dev_[A-Za-z0-9_-]{32}\n/);
  });
});

describe('SQLite files', () => {
  it('invariant: data-files-owner-only — the data directory is created 0700 and the database, -wal and -shm files 0600', async () => {
    const host = await start({ store: 'sqlite' });
    const data = join(dir, 'data');
    const db = join(data, 'weft.db');
    // A write while the host runs keeps the WAL side files in place for the check.
    const res = await fetch(`${host.url}/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ workflowId: 'weft-hello' }),
    });
    expect(res.status).toBe(201);
    expect(mode(data)).toBe(0o700);
    expect(mode(db)).toBe(0o600);
    for (const side of [`${db}-wal`, `${db}-shm`]) {
      expect(existsSync(side)).toBe(true);
      expect(mode(side)).toBe(0o600);
    }
  });

  it('invariant: data-files-owner-only — a database file left world-readable is narrowed to 0600 on open', async () => {
    const first = await start({ store: 'sqlite' });
    await first.close();
    const db = join(dir, 'data', 'weft.db');
    chmodSync(db, 0o644);
    await start({ store: 'sqlite' });
    expect(mode(db)).toBe(0o600);
  });
});
