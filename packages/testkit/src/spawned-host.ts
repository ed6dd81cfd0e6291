/**
 * Real host processes for tests: spawns the built server (`packages/server/dist/main.js`) or
 * CLI (`packages/cli/dist/bin.js serve`) as a child process, waits for its listening line,
 * and talks to its API with one bearer key. Also makes throwaway databases on a real Postgres
 * server, which tests need where PGlite's one shared session cannot model several processes
 * or a killed client.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { RunEventDoc } from '@weft/contract';
import { createTestDatabase, type TestDatabase } from './pg.js';
import { REPO_ROOT } from './test-host.js';

/** The built server entry point (`node SERVER_MAIN` reads its settings from `WEFT_*`). */
export const SERVER_MAIN = join(REPO_ROOT, 'packages', 'server', 'dist', 'main.js');
/** The built CLI entry point (`node CLI_BIN serve …`). */
export const CLI_BIN = join(REPO_ROOT, 'packages', 'cli', 'dist', 'bin.js');
/** The machine's local Postgres server, used when `WEFT_TEST_PG_URL` is unset. */
export const LOCAL_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** A started host process. */
export interface SpawnedHost {
  /** Label used in error messages, when several hosts run at once. */
  name?: string;
  child: ChildProcess;
  /** Base URL from the listening line, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** The bearer key {@link api} sends. */
  key: string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** stderr so far (for failure messages). */
  stderr: () => string;
}

/** What {@link spawnHost} starts. */
export interface SpawnHostOptions {
  /** Arguments after `node`, e.g. `[SERVER_MAIN]` or `[CLI_BIN, 'serve', '--port', '0']`. */
  argv: string[];
  /** The environment, besides `PATH` and `WEFT_LOG_LEVEL=error`; it must accept `key`. */
  env: Record<string, string>;
  /** The bearer key for {@link api}. */
  key: string;
  name?: string;
}

/**
 * Spawns a host and resolves once it prints `listening on <url>`; rejects when it exits first
 * or has not started within 20 s.
 */
export function spawnHost(options: SpawnHostOptions): Promise<SpawnedHost> {
  const { argv, env, key, name } = options;
  const label = name === undefined ? 'host' : `host ${name}`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, {
      env: { PATH: process.env.PATH ?? '', WEFT_LOG_LEVEL: 'error', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${label} did not start: ${out}${err}`)), 20_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ ...(name === undefined ? {} : { name }), child, url: m[1], key, exited, stderr: () => err });
      }
    });
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited early (${String(code)}): ${out}${err}`));
    });
  });
}

/** Kills the host with SIGKILL and resolves once it has exited (at once when it already has). */
export async function killHost(p: SpawnedHost): Promise<void> {
  p.child.kill('SIGKILL');
  await p.exited;
}

/** Resolves with the exit code, or rejects when the process is still running after `ms`. */
export function exitWithin(p: SpawnedHost, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`still running ${ms} ms after SIGTERM`)), ms)));
  return Promise.race([p.exited, late]).finally(() => clearTimeout(timer));
}

/** Calls the host's API with its bearer key; a status of 300 or more throws. */
export async function api<T>(p: SpawnedHost, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${p.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${p.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${p.name === undefined ? '' : `${p.name}: `}${method} ${path} → ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** Long-polls `p` until `pred` holds for the run's log (an event wait with a deadline). */
export async function waitLog(p: SpawnedHost, runId: string, pred: (evs: RunEventDoc[]) => boolean, deadlineMs = 20_000): Promise<RunEventDoc[]> {
  const end = Date.now() + deadlineMs;
  const evs: RunEventDoc[] = [];
  let last = -1;
  while (Date.now() < end) {
    const r = await api<{ events: RunEventDoc[]; lastEventSeq: number }>(p, 'GET', `/v1/runs/${runId}/events/poll?lastSequence=${last}&timeout=2`);
    evs.push(...r.events);
    last = r.lastEventSeq;
    if (pred(evs)) return evs;
  }
  throw new Error(`condition not met for ${runId}${p.name === undefined ? '' : ` on ${p.name}`}: ${evs.map((e) => e.type).join(',')}`);
}

/** The server {@link createRealTestDatabase} uses: `WEFT_TEST_PG_URL`, or {@link LOCAL_PG_URL}. */
export function realPgAdminUrl(): string {
  return process.env.WEFT_TEST_PG_URL ?? LOCAL_PG_URL;
}

/**
 * A throwaway database on a real server (never PGlite): the one in `WEFT_TEST_PG_URL`, or the
 * machine's local server when that is unset.
 */
export async function createRealTestDatabase(): Promise<TestDatabase> {
  const before = process.env.WEFT_TEST_PG_URL;
  process.env.WEFT_TEST_PG_URL = realPgAdminUrl();
  try {
    return await createTestDatabase();
  } finally {
    if (before === undefined) delete process.env.WEFT_TEST_PG_URL;
  }
}
