/**
 * The console's static routes: what they serve, the headers every answer carries, a missing
 * build (a clear page, never a crash), names outside the build, and the off switch.
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type HostConfig } from './config.js';
import { startHost, type RunningHost } from './host.js';
import { CONSOLE_CSP } from './routes/console.js';
import { consoleNote } from './startup-notes.js';

let dir: string;
const hosts: RunningHost[] = [];

async function start(overrides: Partial<HostConfig>): Promise<RunningHost> {
  const cfg = loadConfig(
    {},
    {
      host: '127.0.0.1',
      port: 0,
      store: 'memory',
      apiKeys: [{ tenant: 't', key: 'console-route-key-0123456789abcdef' }],
      generateDevKey: false,
      workflowsDirs: [],
      logLevel: 'silent',
      announce: false,
      ...overrides,
    },
  );
  const h = await startHost(cfg);
  hosts.push(h);
  return h;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'weft-console-'));
  mkdirSync(join(dir, 'build', 'assets'), { recursive: true });
  writeFileSync(join(dir, 'build', 'index.html'), '<!doctype html><title>console</title><script type="module" src="/console/assets/app-1.js"></script>');
  writeFileSync(join(dir, 'build', 'assets', 'app-1.js'), 'export {};');
  writeFileSync(join(dir, 'build', 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(dir, 'secret.txt'), 'outside the build');
});

afterAll(async () => {
  for (const h of hosts.splice(0)) await h.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('console routes', () => {
  it('invariant: console-strict-csp — serves index.html at /console and /console/ with a strict Content-Security-Policy', async () => {
    const h = await start({ consoleDir: join(dir, 'build') });
    for (const path of ['/console', '/console/']) {
      const r = await fetch(`${h.url}${path}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(r.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
      expect(r.headers.get('x-frame-options')).toBe('DENY');
      expect(r.headers.get('referrer-policy')).toBe('no-referrer');
      expect(r.headers.get('cache-control')).toBe('no-cache');
      expect(await r.text()).toContain('<title>console</title>');
    }
    expect(CONSOLE_CSP).toContain("default-src 'none'");
    expect(CONSOLE_CSP).toContain("script-src 'self'");
    expect(CONSOLE_CSP).toContain("frame-ancestors 'none'");
    expect(CONSOLE_CSP).not.toMatch(/unsafe-|\*|data:|https?:/);
  });

  it('invariant: console-strict-csp — serves the hashed assets for good and top-level files, without authentication', async () => {
    const h = await start({ consoleDir: join(dir, 'build') });
    const js = await fetch(`${h.url}/console/assets/app-1.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(js.headers.get('x-content-type-options')).toBe('nosniff');
    const svg = await fetch(`${h.url}/console/favicon.svg`);
    expect(svg.status).toBe(200);
    expect(svg.headers.get('content-type')).toBe('image/svg+xml');
    for (const r of [js, svg]) expect(r.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
  });

  it('invariant: console-static-files-only — answers 404 in the error envelope for names outside the build, never reading a path from the request', async () => {
    const h = await start({ consoleDir: join(dir, 'build') });
    for (const path of [
      '/console/missing.js',
      '/console/assets/..%2F..%2Fsecret.txt',
      '/console/..%2Fsecret.txt',
      '/console/assets/.hidden.js',
      '/console/a/b/c',
    ]) {
      const r = await fetch(`${h.url}${path}`);
      expect(r.status, path).toBe(404);
      expect(((await r.json()) as { error: string }).error).toBe('not_found');
    }
  });

  it('answers a missing build with 503 and a page saying how to build it, and start-up says the same', async () => {
    const missing = join(dir, 'no-build');
    const h = await start({ consoleDir: missing });
    const r = await fetch(`${h.url}/console`);
    expect(r.status).toBe(503);
    expect(r.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    const page = await r.text();
    expect(page).toContain('The Weft console is not built');
    expect(page).toContain('npm run build -w @weft/console');
    expect(consoleNote({ console: true, consoleDir: missing }, h.url)).toContain('Console: not built');
    expect(consoleNote({ console: true, consoleDir: join(dir, 'build') }, h.url)).toBe(`Console: ${h.url}/console`);
    // The API is unaffected.
    expect((await fetch(`${h.url}/.well-known/openwop`)).status).toBe(200);
  });

  it('picks up a build made while the host runs, and a rebuild from the next page load', async () => {
    const later = join(dir, 'later');
    const h = await start({ consoleDir: later });
    expect((await fetch(`${h.url}/console`)).status).toBe(503);
    mkdirSync(join(later, 'assets'), { recursive: true });
    writeFileSync(join(later, 'assets', 'a-1.js'), 'export {};');
    writeFileSync(join(later, 'index.html'), '<!doctype html><title>one</title>');
    expect(await (await fetch(`${h.url}/console`)).text()).toContain('<title>one</title>');
    writeFileSync(join(later, 'assets', 'a-2.js'), 'export {};');
    writeFileSync(join(later, 'index.html'), '<!doctype html><title>two, longer</title>');
    utimesSync(join(later, 'index.html'), new Date(), new Date(Date.now() + 5000));
    expect(await (await fetch(`${h.url}/console/`)).text()).toContain('<title>two, longer</title>');
    expect((await fetch(`${h.url}/console/assets/a-2.js`)).status).toBe(200);
  });

  it('WEFT_CONSOLE=off answers every console route like an unknown one', async () => {
    const h = await start({ console: false, consoleDir: join(dir, 'build') });
    for (const path of ['/console', '/console/', '/console/favicon.svg', '/console/assets/app-1.js']) expect((await fetch(`${h.url}${path}`)).status).toBe(404);
    expect(consoleNote({ console: false }, h.url)).toBeUndefined();
    expect(loadConfig({ WEFT_CONSOLE: 'off' }).console).toBe(false);
    expect(() => loadConfig({ WEFT_CONSOLE: 'maybe' })).toThrow('WEFT_CONSOLE must be on or off');
  });
});
