#!/usr/bin/env node
/**
 * Weft loopback load benchmark for any OpenWOP v1 host (REST + SSE).
 *
 * By default it spawns the host itself (`node packages/server/dist/main.js`, store chosen
 * with --store) so it can also sample the host's CPU time and RSS from /proc. With
 * --base-url/--api-key it targets an already running host (loopback only).
 *
 * Phases (each: --warmup seconds unrecorded, then --duration seconds recorded):
 *   create    POST /v1/runs throughput and latency at concurrency C
 *   e2e       create → terminal (long-poll or SSE, --wait) runs/s at C
 *   sse       SSE time-to-first-`data:` frame right after creation, at C
 *   sse1      the same at concurrency 1 (unloaded latency)
 *   collapse  e2e at --collapse-concurrency (default 64): no-collapse check
 *
 * Run `node bench/run.mjs --help` for the flags; bench/README.md explains the scenarios.
 * Every loop is bounded in time (phase deadline + a global deadline) and in count
 * (--max-ops per phase, a bounded number of polls per run), and only loopback is targeted.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatProfileSummary, summarizeProfile } from './profile-summary.mjs';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(BENCH_DIR, '..');
/** The official contracts (`WEFT_CONTRACTS_DIR`, relative to the repository root; default beside it). */
const CONTRACTS_DIR = resolve(REPO, process.env.WEFT_CONTRACTS_DIR || '../shared/contracts');
/** The conformance fixtures when they are beside the checkout; else the project's own examples (workflow weft-noop). */
const FIXTURES_DIR = join(CONTRACTS_DIR, 'conformance-fixtures');
const HAVE_FIXTURES = existsSync(join(FIXTURES_DIR, 'conformance-noop.json'));
const DEFAULT_WORKFLOW_DIR = HAVE_FIXTURES ? FIXTURES_DIR : join(REPO, 'examples', 'workflows');
const DEFAULT_WORKFLOW = HAVE_FIXTURES ? 'conformance-noop' : 'weft-noop';
const ALL_PHASES = ['create', 'e2e', 'sse', 'sse1', 'collapse'];
const TERMINAL_EVENTS = new Set(['run.completed', 'run.failed', 'run.cancelled']);
const MAX_POLLS_PER_RUN = 50;
const REQUEST_TIMEOUT_MS = 30_000;

const TARGETS = {
  e2eSqliteRunsPerS: 2500,
  createP99Ms: 10,
  sseFirstEventP50Ms: 2,
  /** Issue 9: append → SSE frame p99 under the C=16 load (worst frame of each stream). */
  deliveryP99Ms: 20,
  hostCpuMsPerRun: 0.4,
  e2ePostgresRunsPerS: 500,
  /** "No collapse": runs/s at C=64 at least this fraction of runs/s at C, and no errors. */
  collapseMinRatio: 0.8,
};

const HELP = `usage: node bench/run.mjs [options]

  --store sqlite|postgres|memory  store of the spawned host (default sqlite); with --base-url
                                  it only selects which targets apply
  --pg-url URL                    admin URL for --store postgres; a database weft_bench_<hex>
                                  is created and dropped (default postgres://postgres@127.0.0.1:5432/postgres)
  --base-url URL --api-key KEY    target an already running host (loopback only); no CPU/RSS
  -c, --concurrency N             virtual users (default 16)
  -d, --duration S                recorded seconds per phase (default 10)
  --warmup S                      unrecorded seconds before each phase (default 2)
  --collapse-concurrency N        concurrency of the "no collapse" phase (default 64)
  --phases LIST                   comma list of ${ALL_PHASES.join(',')} (default: all)
  --wait poll|sse                 how e2e/collapse wait for the terminal event (default poll)
  --workflow ID                   workflow to run (default conformance-noop, or weft-noop when
                                  ../shared/contracts is absent)
  --workflow-dir DIR              workflows the spawned host loads (default the conformance
                                  fixtures in ../shared/contracts, else examples/workflows)
  --workflows-dir DIR             extra workflow directory for the spawned host, after
                                  --workflow-dir (repeatable)
  --host-log-level LEVEL          WEFT_LOG_LEVEL of the spawned host (default: not set, i.e. the
                                  host's default, info — the npm start settings)
  --compare URL --compare-key K   also run every phase against another OpenWOP host on loopback
                                  (back to back, same client, same sitting) and print the
                                  ratios Weft / other per figure
  --compare-workflow ID           workflow id on the compared host (default --workflow)
  --compare-label NAME            its name in the output (default "other")
  --max-ops N                     hard cap on recorded+warmup operations per phase (default 2000000)
  --profile                       run the spawned host under --cpu-prof; profile and summary
                                  written to bench/out/ (profile overhead lowers throughput)
  --host-arg ARG                  extra node argument for the spawned host (repeatable)
  --host-dir DIR                  checkout whose packages/server/dist/main.js is spawned
                                  (default: this repository); e.g. a pinned clone of a commit
  --quiet-wait S                  before each phase, wait up to S seconds (default 30) for the
                                  machine to be idle (< 0.25 busy cores over 1 s), so other
                                  processes' load does not skew the figures; 0 disables
  --retry-noisy N                 rerun a phase (up to N times, default 2) when other processes
                                  used more than --noisy-cores (default 0.15) cores during it;
                                  the quietest attempt is reported, all are kept in the JSON
  --json                          print machine-readable results (only JSON on stdout)
  --out FILE                      also write the JSON results to FILE
  -h, --help
`;

// ───────────────────────────── arguments ─────────────────────────────

function parseCli(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      store: { type: 'string', default: 'sqlite' },
      'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
      'base-url': { type: 'string' },
      'api-key': { type: 'string' },
      concurrency: { type: 'string', short: 'c', default: '16' },
      duration: { type: 'string', short: 'd', default: '10' },
      warmup: { type: 'string', default: '2' },
      'collapse-concurrency': { type: 'string', default: '64' },
      phases: { type: 'string', default: ALL_PHASES.join(',') },
      wait: { type: 'string', default: 'poll' },
      workflow: { type: 'string', default: DEFAULT_WORKFLOW },
      'workflow-dir': { type: 'string', default: DEFAULT_WORKFLOW_DIR },
      'host-log-level': { type: 'string' },
      compare: { type: 'string' },
      'compare-key': { type: 'string' },
      'compare-workflow': { type: 'string' },
      'compare-label': { type: 'string', default: 'other' },
      'workflows-dir': { type: 'string', multiple: true, default: [] },
      'max-ops': { type: 'string', default: '2000000' },
      profile: { type: 'boolean', default: false },
      'host-arg': { type: 'string', multiple: true, default: [] },
      'quiet-wait': { type: 'string', default: '30' },
      'host-dir': { type: 'string' },
      'retry-noisy': { type: 'string', default: '2' },
      'noisy-cores': { type: 'string', default: '0.15' },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const num = (name, min, max, int = true) => {
    const v = Number(values[name]);
    if (!Number.isFinite(v) || v < min || v > max || (int && !Number.isInteger(v)))
      throw new Error(`--${name} must be ${int ? 'an integer' : 'a number'} in ${min}..${max}`);
    return v;
  };
  const opts = {
    store: values.store,
    pgUrl: values['pg-url'],
    baseUrl: values['base-url'],
    apiKey: values['api-key'],
    concurrency: num('concurrency', 1, 1024),
    duration: num('duration', 0.5, 600, false),
    warmup: num('warmup', 0, 120, false),
    collapseConcurrency: num('collapse-concurrency', 1, 1024),
    phases: values.phases
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    wait: values.wait,
    workflow: values.workflow,
    workflowDir: resolve(values['workflow-dir']),
    hostLogLevel: values['host-log-level'],
    compare: values.compare,
    compareKey: values['compare-key'],
    compareWorkflow: values['compare-workflow'] ?? values.workflow,
    compareLabel: values['compare-label'],
    maxOps: num('max-ops', 1, 100_000_000),
    profile: values.profile,
    hostArgs: values['host-arg'],
    workflowsDirs: values['workflows-dir'],
    quietWait: num('quiet-wait', 0, 300),
    hostDir: values['host-dir'],
    retryNoisy: num('retry-noisy', 0, 10),
    noisyCores: num('noisy-cores', 0, 64, false),
    json: values.json,
    out: values.out,
  };
  if (!['sqlite', 'postgres', 'memory'].includes(opts.store)) throw new Error('--store must be sqlite, postgres or memory');
  if (!['poll', 'sse'].includes(opts.wait)) throw new Error('--wait must be poll or sse');
  for (const p of opts.phases) if (!ALL_PHASES.includes(p)) throw new Error(`unknown phase ${p}; phases: ${ALL_PHASES.join(', ')}`);
  if (opts.baseUrl && !opts.apiKey) throw new Error('--base-url needs --api-key');
  if (opts.compare && !opts.compareKey) throw new Error('--compare needs --compare-key');
  if (opts.compare) assertLoopback(opts.compare);
  if (!opts.baseUrl && !existsSync(opts.workflowDir)) throw new Error(`--workflow-dir ${opts.workflowDir} does not exist`);
  if (opts.profile && opts.baseUrl) throw new Error('--profile needs a spawned host (no --base-url)');
  return opts;
}

/** Only loopback targets: 127.0.0.0/8, localhost, ::1. */
function assertLoopback(urlText) {
  const u = new URL(urlText);
  if (u.protocol !== 'http:') throw new Error('only http:// base URLs are supported');
  const h = u.hostname.replace(/^\[|\]$/g, '');
  const ok = h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
  if (!ok) throw new Error(`refusing to load a non-loopback address (${h}); this benchmark only targets 127.0.0.0/8, localhost or ::1`);
  return u;
}

// ───────────────────────────── /proc sampling ─────────────────────────────

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU ms (user, system) of a process, all threads. */
function procCpuMs(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state); utime = field 14, stime = field 15.
    return { user: (Number(f[11]) * 1000) / CLK_TCK, system: (Number(f[12]) * 1000) / CLK_TCK };
  } catch {
    return undefined;
  }
}

/** { rssKb, hwmKb } from /proc/<pid>/status. */
function procMem(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/** Whole-machine busy/total jiffies from /proc/stat. */
function systemCpu() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = v[3] + (v[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** Summed CPU ms of all processes named `postgres` (the local server, when used). */
function postgresServerCpuMs() {
  let ms = 0;
  let n = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      if (comm !== 'postgres') continue;
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      ms += ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
      n++;
    } catch {
      // process went away
    }
  }
  return n > 0 ? ms : undefined;
}

// ───────────────────────────── host management ─────────────────────────────

async function createPgDatabase(adminUrl) {
  const { default: pg } = await import('pg');
  const name = `weft_bench_${randomBytes(6).toString('hex')}`;
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return {
    name,
    url: u.toString(),
    async drop() {
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}

/** Spawns the host and resolves once it prints its `listening on` line. */
async function spawnHost(opts, log) {
  const hostDir = resolve(opts.hostDir ?? REPO);
  const main = join(hostDir, 'packages/server/dist/main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: build first (npx tsc -b)`);
  const dataDir = mkdtempSync(join(tmpdir(), 'weft-bench-'));
  const apiKey = randomBytes(24).toString('base64url').slice(0, 32);
  let db;
  if (opts.store === 'postgres') {
    assertLoopback(opts.pgUrl.replace(/^postgres(ql)?:/, 'http:'));
    db = await createPgDatabase(opts.pgUrl);
    log(`created database ${db.name}`);
  }
  const nodeArgs = [...opts.hostArgs];
  let profDir;
  if (opts.profile) {
    profDir = join(BENCH_DIR, 'out', `prof-${new Date().toISOString().replace(/[:.]/g, '-')}-${opts.store}`);
    mkdirSync(profDir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-name=host.cpuprofile');
  }
  const env = {
    ...process.env,
    WEFT_PORT: '0',
    WEFT_HOST: '127.0.0.1',
    WEFT_STORE: opts.store,
    WEFT_DATA_DIR: dataDir,
    WEFT_API_KEYS: `bench:${apiKey}`,
    WEFT_WORKFLOWS_DIR: [opts.workflowDir, ...opts.workflowsDirs.map((d) => resolve(d))].join(':'),
  };
  // The npm start defaults unless asked otherwise: no log-level override (an inherited one is
  // dropped too), the host's stdout drained below.
  delete env.WEFT_LOG_LEVEL;
  if (opts.hostLogLevel) env.WEFT_LOG_LEVEL = opts.hostLogLevel;
  if (db) env.WEFT_PG_URL = db.url;
  const removeScratch = async () => {
    rmSync(dataDir, { recursive: true, force: true });
    if (db) {
      await db.drop().then(
        () => log(`dropped database ${db.name}`),
        (e) => log(`could not drop database ${db.name}: ${e.message}`),
      );
    }
  };
  const child = spawn(process.execPath, [...nodeArgs, main], { cwd: hostDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail = [];
  const keep = (line) => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
  };
  const errTail = [];
  // 'close' (not 'exit'): stdout/stderr are drained by then, so the last error line is kept.
  const exited = new Promise((res) => child.once('close', (code, signal) => res({ code, signal })));
  let buf = '';
  // Once the host listens, its stdout (the log, at info by default) is only drained and counted:
  // no decoding or line splitting in the load generator.
  const logOut = { bytes: 0, lines: 0 };
  const drain = (d) => {
    logOut.bytes += d.length;
    for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) logOut.lines++;
  };
  const ready = new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`host did not announce itself within 60 s:\n${tail.join('\n')}`)), 60_000);
    const onData = (chunk) => {
      drain(chunk);
      buf += chunk.toString('utf8');
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        keep(line);
        const m = /listening on (http:\/\/\S+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          child.stdout.off('data', onData);
          child.stdout.on('data', drain);
          res(m[1]);
          return;
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) =>
      d
        .split('\n')
        .filter(Boolean)
        .forEach((l) => {
          keep(l);
          errTail.push(l);
          if (errTail.length > 10) errTail.shift();
        }),
    );
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rej(new Error(`host exited (code ${code}, signal ${signal}) before listening; last stderr lines:\n${errTail.join('\n')}`));
    });
  });
  let url;
  try {
    url = await ready;
  } catch (e) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    await removeScratch();
    throw e;
  }
  let stopping;
  return {
    pid: child.pid,
    url,
    apiKey,
    dataDir,
    profDir,
    tail,
    exited,
    logOut,
    /** Idempotent: every caller waits for the same shutdown (host exit, data dir, database). */
    stop() {
      stopping ??= shutdown();
      return stopping;
    },
  };
  async function shutdown() {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    }
    await removeScratch();
  }
}

// ───────────────────────────── HTTP client ─────────────────────────────

class HttpError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function makeClient(base, apiKey, agent) {
  const hostname = base.hostname.replace(/^\[|\]$/g, '');
  const port = Number(base.port || 80);
  const prefix = base.pathname.replace(/\/$/, '');
  const auth = `Bearer ${apiKey}`;

  /** One request; resolves { status, body } with the whole body as a string. */
  function request(method, path, payload) {
    return new Promise((res, rej) => {
      const headers = { authorization: auth, accept: 'application/json' };
      if (payload) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = payload.length;
      }
      const req = http.request({ agent, hostname, port, method, path: prefix + path, headers }, (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (d) => {
          body += d;
        });
        r.on('end', () => res({ status: r.statusCode, body }));
        r.on('error', rej);
      });
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new HttpError('timeout', `${method} ${path} timed out`)));
      req.on('error', rej);
      req.end(payload);
    });
  }

  /**
   * SSE request: resolves { firstDataMs, terminal, status } when the server closes the
   * stream (or after a terminal event plus a short grace, for hosts that keep it open).
   */
  function sse(path, t0) {
    return new Promise((res, rej) => {
      let firstDataMs;
      // Worst append → arrival gap of the stream's frames: now − the event's own `timestamp`
      // (stamped by the host in the step that appended it; same machine, same clock).
      let deliveryMs;
      let terminal = false;
      let grace;
      const req = http.request(
        { agent, hostname, port, method: 'GET', path: prefix + path, headers: { authorization: auth, accept: 'text/event-stream' } },
        (r) => {
          if (r.statusCode !== 200) {
            let body = '';
            r.setEncoding('utf8');
            r.on('data', (d) => {
              body += d;
            });
            r.on('end', () => rej(new HttpError(`http_${r.statusCode}`, `SSE ${r.statusCode}: ${body.slice(0, 200)}`)));
            return;
          }
          r.setEncoding('utf8');
          let pending = '';
          r.on('data', (d) => {
            const chunk = pending + d;
            if (firstDataMs === undefined && (chunk.startsWith('data:') || chunk.includes('\ndata:'))) firstDataMs = performance.now() - t0;
            const nl = chunk.lastIndexOf('\n');
            if (nl < 0) {
              pending = chunk;
              return;
            }
            pending = chunk.slice(nl + 1);
            if (terminal) return;
            const now = Date.now();
            for (const line of chunk.slice(0, nl).split('\n')) {
              if (line.startsWith('event:') && TERMINAL_EVENTS.has(line.slice(6).trim())) terminal = true;
              else if (line.startsWith('data:')) {
                const m = /"timestamp":"([^"]+)"/.exec(line);
                const at = m ? Date.parse(m[1]) : Number.NaN;
                if (!Number.isNaN(at) && (deliveryMs === undefined || now - at > deliveryMs)) deliveryMs = Math.max(0, now - at);
              }
            }
            // A host that keeps the stream open after the terminal event gets 2 s, then we hang up.
            if (terminal && !grace) grace = setTimeout(() => req.destroy(), 2000);
          });
          const done = () => {
            clearTimeout(grace);
            res({ firstDataMs, deliveryMs, terminal, status: r.statusCode });
          };
          r.on('end', done);
          r.on('close', done);
          r.on('error', (e) => (terminal ? done() : rej(e)));
        },
      );
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new HttpError('timeout', `SSE ${path} timed out`)));
      req.on('error', (e) => (terminal ? res({ firstDataMs, deliveryMs, terminal, status: 200 }) : rej(e)));
      req.end();
    });
  }

  return { request, sse };
}

// ───────────────────────────── operations ─────────────────────────────

function createPayload(workflow) {
  return Buffer.from(JSON.stringify({ workflowId: workflow }));
}

async function createRun(client, payload) {
  const r = await client.request('POST', '/v1/runs', payload);
  if (r.status !== 201 && r.status !== 200) throw new HttpError(`http_${r.status}`, `POST /v1/runs ${r.status}: ${r.body.slice(0, 200)}`);
  const runId = JSON.parse(r.body).runId;
  if (typeof runId !== 'string') throw new HttpError('bad_body', 'POST /v1/runs: no runId');
  return runId;
}

/** Long-polls until isTerminal; returns { status, polls }. */
async function waitPoll(client, runId) {
  let cursor = -1;
  for (let polls = 1; polls <= MAX_POLLS_PER_RUN; polls++) {
    const r = await client.request('GET', `/v1/runs/${encodeURIComponent(runId)}/events/poll?lastSequence=${cursor}&timeout=10`);
    if (r.status !== 200) throw new HttpError(`http_${r.status}`, `poll ${r.status}: ${r.body.slice(0, 200)}`);
    const b = JSON.parse(r.body);
    if (b.isTerminal) return { status: b.runStatus, polls };
    if (typeof b.lastEventSeq === 'number' && b.lastEventSeq > cursor) cursor = b.lastEventSeq;
  }
  throw new HttpError('poll_limit', `run ${runId} not terminal after ${MAX_POLLS_PER_RUN} polls`);
}

async function waitSse(client, runId, query = '') {
  const r = await client.sse(`/v1/runs/${encodeURIComponent(runId)}/events${query}`, performance.now());
  if (!r.terminal) throw new HttpError('sse_no_terminal', `SSE for ${runId} closed without a terminal event`);
  return { status: 'terminal', polls: 0 };
}

// ───────────────────────────── phase runner ─────────────────────────────

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits (bounded) until the whole machine is nearly idle, measured over 1 s windows.
 * Returns the last measured busy cores.
 */
async function waitQuiet(maxS, log) {
  const ncpu = cpus().length;
  const deadline = performance.now() + maxS * 1000;
  let busy = NaN;
  for (let first = true; ; first = false) {
    const a = systemCpu();
    await sleep(1000);
    const b = systemCpu();
    if (!a || !b) return undefined;
    busy = ((b.busy - a.busy) / Math.max(1, b.total - a.total)) * ncpu;
    if (busy < 0.25) return +busy.toFixed(2);
    if (performance.now() >= deadline) {
      log(`machine still busy (${busy.toFixed(2)} cores used by other processes) after ${maxS}s: measuring anyway; see "other cores"`);
      return +busy.toFixed(2);
    }
    if (first) log(`machine busy (${busy.toFixed(2)} cores used by other processes): waiting up to ${maxS}s for it to settle…`);
  }
}

function pct(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function latencyStats(arr) {
  if (arr.length === 0) return null;
  const s = Float64Array.from(arr).sort();
  let sum = 0;
  for (const v of s) sum += v;
  const r = (v) => +v.toFixed(3);
  return { n: s.length, mean: r(sum / s.length), p50: r(pct(s, 50)), p95: r(pct(s, 95)), p99: r(pct(s, 99)), max: r(s[s.length - 1]) };
}

/**
 * Runs `op` in `concurrency` loops for warmup + duration seconds; only operations that
 * complete inside the recorded window are counted. `op(client, rec)` returns a sample
 * object; `rec.lat` names the latency field(s) to collect.
 */
async function runPhase({ name, base, apiKey, concurrency, duration, warmup, maxOps, host, op, fields, log }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const client = makeClient(base, apiKey, agent);
  const st = { recording: false, stop: false, started: 0, ok: 0, errors: 0, errorKinds: new Map(), errorSamples: [], runStatuses: new Map(), polls: 0 };
  const samples = Object.fromEntries(fields.map((f) => [f, []]));
  // Second (of the recorded window) in which each sample completed, for the quiet-second view.
  const sampleSec = Object.fromEntries(fields.map((f) => [f, []]));
  const perSecond = [];
  let curSec = 0;
  const tStart = performance.now();
  const hardDeadline = tStart + (warmup + duration) * 1000 + 60_000;
  let t0 = 0;

  const vu = async () => {
    while (!st.stop && st.started < maxOps && performance.now() < hardDeadline) {
      st.started++;
      try {
        const s = await op(client);
        if (st.recording) {
          st.ok++;
          for (const f of fields) {
            if (s[f] === undefined) continue;
            samples[f].push(s[f]);
            sampleSec[f].push(curSec);
          }
          if (s.polls) st.polls += s.polls;
          if (s.runStatus) st.runStatuses.set(s.runStatus, (st.runStatuses.get(s.runStatus) ?? 0) + 1);
          perSecond[curSec] = (perSecond[curSec] ?? 0) + 1;
        }
      } catch (e) {
        if (st.recording) {
          st.errors++;
          const k = e?.code ?? e?.name ?? 'error';
          st.errorKinds.set(k, (st.errorKinds.get(k) ?? 0) + 1);
          if (st.errorSamples.length < 5) st.errorSamples.push(String(e?.message ?? e).slice(0, 300));
        }
        await sleep(5);
      }
    }
  };

  log(`phase ${name}: C=${concurrency}, warmup ${warmup}s, recording ${duration}s…`);
  const loops = Array.from({ length: concurrency }, vu);
  await sleep(warmup * 1000);

  const snap = () => ({
    t: performance.now(),
    host: host ? procCpuMs(host.pid) : undefined,
    log: host?.logOut ? { ...host.logOut } : undefined,
    client: process.cpuUsage(),
    sys: systemCpu(),
    pg: host?.store === 'postgres' ? postgresServerCpuMs() : undefined,
  });
  const before = snap();
  t0 = before.t;
  st.recording = true;
  let peakRssKb = host ? (procMem(host.pid)?.rssKb ?? 0) : undefined;
  const rssTimer = host
    ? setInterval(() => {
        const m = procMem(host.pid);
        if (m && m.rssKb > peakRssKb) peakRssKb = m.rssKb;
      }, 200)
    : undefined;
  // One CPU snapshot per second of the recorded window: per-second "other cores" lets the
  // quiet seconds be told from the ones disturbed by other processes. Stops early at the op cap.
  const endAt = t0 + duration * 1000;
  const secs1 = [];
  let prev = before;
  for (let k = 1; performance.now() < endAt && st.started < maxOps; ) {
    const nextTick = t0 + k * 1000;
    await sleep(Math.max(1, Math.min(nextTick, endAt) - performance.now()));
    if (performance.now() >= nextTick && nextTick <= endAt) {
      const cur = snap();
      curSec = k;
      secs1.push(secondStats(prev, cur, host));
      prev = cur;
      k++;
    }
  }
  st.recording = false;
  const after = snap();
  if (rssTimer) clearInterval(rssTimer);
  st.stop = true;
  await Promise.race([Promise.all(loops), sleep(REQUEST_TIMEOUT_MS + 5000)]);
  agent.destroy();

  const secs = (after.t - before.t) / 1000;
  const clientCpuMs = (after.client.user - before.client.user + after.client.system - before.client.system) / 1000;
  const res = {
    phase: name,
    concurrency,
    seconds: +secs.toFixed(3),
    ok: st.ok,
    errors: st.errors,
    opsPerS: +(st.ok / secs).toFixed(1),
    latencyMs: Object.fromEntries(fields.map((f) => [f, latencyStats(samples[f])])),
    perSecond: perSecond.slice(0, Math.ceil(secs)).map((v) => v ?? 0),
    otherCoresPerSecond: secs1.map((x) => x.otherCores),
    clientCpuMs: +clientCpuMs.toFixed(1),
    clientCpuMsPerOp: st.ok ? +(clientCpuMs / st.ok).toFixed(4) : null,
    clientCpuCores: +(clientCpuMs / 1000 / secs).toFixed(2),
  };
  if (st.polls) res.pollsPerRun = +(st.polls / st.ok).toFixed(2);
  if (st.runStatuses.size) res.runStatuses = Object.fromEntries(st.runStatuses);
  if (st.errors) {
    res.errorKinds = Object.fromEntries(st.errorKinds);
    res.errorSamples = st.errorSamples;
  }
  if (before.sys && after.sys) {
    const ncpu = cpus().length;
    res.machineBusyCores = +(((after.sys.busy - before.sys.busy) / Math.max(1, after.sys.total - before.sys.total)) * ncpu).toFixed(2);
  }
  // Everything else on the box (other processes, postgres, kernel threads): flags interference.
  const otherCores = (hostCores) =>
    res.machineBusyCores === undefined ? undefined : +Math.max(0, res.machineBusyCores - res.clientCpuCores - hostCores).toFixed(2);
  if (host && before.host && after.host) {
    const u = after.host.user - before.host.user;
    const s = after.host.system - before.host.system;
    res.host = {
      cpuMs: +(u + s).toFixed(0),
      userMs: +u.toFixed(0),
      systemMs: +s.toFixed(0),
      cpuMsPerOp: st.ok ? +((u + s) / st.ok).toFixed(4) : null,
      cpuCores: +((u + s) / 1000 / secs).toFixed(2),
      peakRssMb: +(peakRssKb / 1024).toFixed(1),
    };
    if (before.log && after.log && st.ok) {
      res.host.logLinesPerOp = +((after.log.lines - before.log.lines) / st.ok).toFixed(2);
      res.host.logBytesPerOp = Math.round((after.log.bytes - before.log.bytes) / st.ok);
    }
  }
  if (before.pg !== undefined && after.pg !== undefined) {
    const ms = after.pg - before.pg;
    res.postgresServer = { cpuMs: +ms.toFixed(0), cpuMsPerOp: st.ok ? +(ms / st.ok).toFixed(4) : null, cpuCores: +(ms / 1000 / secs).toFixed(2) };
  }
  if (res.host) res.otherCores = otherCores(res.host.cpuCores + (res.postgresServer?.cpuCores ?? 0));
  log(`  ${name}: ${res.opsPerS} ops/s, ${st.ok} ok, ${st.errors} errors${res.otherCores !== undefined ? `, other processes ${res.otherCores} cores` : ''}`);
  // Raw material for pooling quiet seconds across attempts (not serialized).
  Object.defineProperty(res, 'raw', { enumerable: false, value: { fields, samples, sampleSec, perSecond, secs1 } });
  return res;
}

/** CPU accounting of one interval between two snapshots. */
function secondStats(a, b, host) {
  const dt = (b.t - a.t) / 1000;
  const out = { dt, hostMs: undefined, otherCores: undefined };
  if (host && a.host && b.host) out.hostMs = b.host.user - a.host.user + (b.host.system - a.host.system);
  if (host && a.sys && b.sys && out.hostMs !== undefined) {
    const busy = ((b.sys.busy - a.sys.busy) / Math.max(1, b.sys.total - a.sys.total)) * cpus().length;
    const client = (b.client.user - a.client.user + b.client.system - a.client.system) / 1e6 / dt;
    const pg = a.pg !== undefined && b.pg !== undefined ? (b.pg - a.pg) / 1000 / dt : 0;
    out.otherCores = +Math.max(0, busy - client - out.hostMs / 1000 / dt - pg).toFixed(2);
  }
  return out;
}

/**
 * Pools the quiet seconds (other processes ≤ noisyCores) of every attempt of a phase:
 * throughput, latency percentiles and host CPU per op over those seconds only.
 */
function poolQuiet(attempts, noisyCores) {
  const fields = attempts[0].raw.fields;
  const lat = Object.fromEntries(fields.map((f) => [f, []]));
  let ops = 0;
  let seconds = 0;
  let hostMs = 0;
  let quietN = 0;
  let totalN = 0;
  for (const a of attempts) {
    const { samples, sampleSec, perSecond, secs1 } = a.raw;
    // Second k of secs1 covers ops tagged k (ops completing before tick k+1).
    const quiet = new Set();
    secs1.forEach((x, k) => {
      totalN++;
      if (x.otherCores !== undefined && x.otherCores <= noisyCores) {
        quiet.add(k);
        quietN++;
        seconds += x.dt;
        ops += perSecond[k] ?? 0;
        hostMs += x.hostMs ?? 0;
      }
    });
    for (const f of fields) {
      for (const [i, v] of samples[f].entries()) if (quiet.has(sampleSec[f][i])) lat[f].push(v);
    }
  }
  if (quietN === 0) return { quietSeconds: 0, ofSeconds: totalN };
  return {
    quietSeconds: quietN,
    ofSeconds: totalN,
    opsPerS: +(ops / seconds).toFixed(1),
    latencyMs: Object.fromEntries(fields.map((f) => [f, latencyStats(lat[f])])),
    hostCpuMsPerOp: ops ? +(hostMs / ops).toFixed(4) : null,
  };
}

// ───────────────────────────── reporting ─────────────────────────────

const fmt = (v, d = 2) => (v === null || v === undefined || Number.isNaN(v) ? '—' : typeof v === 'number' ? v.toFixed(d) : String(v));

/**
 * The figures a phase is judged by: the pooled quiet seconds when the machine was disturbed
 * and at least 5 quiet seconds exist, else the whole window of the quietest attempt.
 */
function figures(p, noisyCores) {
  const disturbed = p.otherCores !== undefined && p.otherCores > noisyCores;
  if (disturbed && p.quiet && p.quiet.quietSeconds >= 5) {
    return {
      source: `quiet seconds ${p.quiet.quietSeconds}/${p.quiet.ofSeconds}`,
      opsPerS: p.quiet.opsPerS,
      latencyMs: p.quiet.latencyMs,
      hostCpuMsPerOp: p.quiet.hostCpuMsPerOp,
    };
  }
  return {
    source: disturbed ? `DISTURBED: other processes used ${p.otherCores} cores` : '',
    opsPerS: p.opsPerS,
    latencyMs: p.latencyMs,
    hostCpuMsPerOp: p.host?.cpuMsPerOp ?? null,
  };
}

function evaluateTargets(results, opts, hostMode) {
  const byPhase = Object.fromEntries(results.phases.map((p) => [p.phase, p]));
  const fig = (p) => figures(p, opts.noisyCores);
  const rows = [];
  const add = (metric, measured, unit, target, cmp, note = '') => {
    let ratio = null;
    let verdict = 'n/a';
    if (measured !== null && measured !== undefined && target !== null) {
      ratio = cmp === '>=' ? measured / target : target / measured;
      verdict = (cmp === '>=' ? measured >= target : measured <= target) ? 'MET' : 'MISSED';
    }
    rows.push({
      metric,
      measured,
      unit,
      target: target === null ? null : `${cmp === '>=' ? '≥' : '≤'} ${target} ${unit}`.trim(),
      ratio: ratio === null ? null : +ratio.toFixed(2),
      verdict,
      note,
    });
  };
  const e2e = byPhase.e2e;
  if (e2e) {
    const f = fig(e2e);
    if (opts.store === 'sqlite')
      add(`noop runs/s end-to-end (sqlite, C=${e2e.concurrency}, ${opts.wait})`, f.opsPerS, 'runs/s', TARGETS.e2eSqliteRunsPerS, '>=', f.source);
    else if (opts.store === 'postgres')
      add(`noop runs/s end-to-end (postgres, C=${e2e.concurrency}, ${opts.wait})`, f.opsPerS, 'runs/s', TARGETS.e2ePostgresRunsPerS, '>=', f.source);
    else
      add(
        `noop runs/s end-to-end (memory, C=${e2e.concurrency}, ${opts.wait})`,
        f.opsPerS,
        'runs/s',
        null,
        '>=',
        [`no memory target (sqlite: ≥ ${TARGETS.e2eSqliteRunsPerS})`, f.source].filter(Boolean).join('; '),
      );
    const what = `host CPU per run (e2e, ${opts.store}${opts.store === 'postgres' ? ', Weft process only' : ''})`;
    if (hostMode) add(what, f.hostCpuMsPerOp, 'ms', TARGETS.hostCpuMsPerRun, '<=', f.source);
    else add(what, null, 'ms', TARGETS.hostCpuMsPerRun, '<=', 'not available: external host');
  }
  const cr = byPhase.create;
  if (cr) {
    const f = fig(cr);
    add(`POST /v1/runs p99 (C=${cr.concurrency})`, f.latencyMs.latency?.p99 ?? null, 'ms', TARGETS.createP99Ms, '<=', f.source);
  }
  const sse = byPhase.sse;
  if (sse) {
    const f = fig(sse);
    add(`SSE first event p50 (C=${sse.concurrency})`, f.latencyMs.firstEvent?.p50 ?? null, 'ms', TARGETS.sseFirstEventP50Ms, '<=', f.source);
    add(`event delivery append → SSE frame p99 (C=${sse.concurrency})`, f.latencyMs.delivery?.p99 ?? null, 'ms', TARGETS.deliveryP99Ms, '<=', f.source);
  }
  const sse1 = byPhase.sse1;
  if (sse1) {
    const f = fig(sse1);
    add('SSE first event p50 (C=1, unloaded)', f.latencyMs.firstEvent?.p50 ?? null, 'ms', TARGETS.sseFirstEventP50Ms, '<=', f.source);
  }
  const col = byPhase.collapse;
  if (col) {
    const fc = fig(col);
    const ref = e2e ? fig(e2e).opsPerS : undefined;
    const ratio = ref ? fc.opsPerS / ref : null;
    const ok = ratio !== null && ratio >= TARGETS.collapseMinRatio && col.errors === 0;
    rows.push({
      metric: `no collapse at C=${col.concurrency} (runs/s vs C=${e2e?.concurrency ?? '?'})`,
      measured: fc.opsPerS,
      unit: 'runs/s',
      target: `≥ ${TARGETS.collapseMinRatio}× C=${e2e?.concurrency ?? '?'} and 0 errors`,
      ratio: ratio === null ? null : +ratio.toFixed(2),
      verdict: ratio === null ? 'n/a' : ok ? 'MET' : 'MISSED',
      note: [`${col.errors} errors, e2e p99 ${fmt(fc.latencyMs.latency?.p99, 1)} ms`, fc.source].filter(Boolean).join('; '),
    });
  }
  return rows;
}

/** `a / b` as a ratio, or — when either is missing. */
function ratio(a, b) {
  return typeof a === 'number' && typeof b === 'number' && b > 0 ? `${(a / b).toFixed(2)}×` : '—';
}

/** The compare table: each figure of this host, of the other, and Weft / other. */
function renderCompare(results) {
  const c = results.compare;
  const L = [`compare: weft vs ${c.label} at ${c.url} (workflow ${c.workflow}), same client, each phase back to back`];
  const head = ['phase', 'figure', 'weft', c.label, `weft / ${c.label}`];
  const rows = [];
  for (const p of results.phases) {
    const q = c.phases.find((x) => x.phase === p.phase);
    if (!q) continue;
    const figures = [
      ['ops/s (higher is better)', p.opsPerS, q.opsPerS],
      ['p50 ms', p.latencyMs.latency?.p50, q.latencyMs.latency?.p50],
      ['p99 ms', p.latencyMs.latency?.p99, q.latencyMs.latency?.p99],
    ];
    if (p.latencyMs.firstEvent) figures.push(['SSE first data p50 ms', p.latencyMs.firstEvent?.p50, q.latencyMs.firstEvent?.p50]);
    if (p.errors || q.errors) figures.push(['errors', p.errors, q.errors]);
    for (const [i, [name, a, b]] of figures.entries()) {
      const label = i > 0 ? '' : `${p.phase}${p.phase === 'e2e' || p.phase === 'collapse' ? ` (${results.options.wait})` : ''}`;
      const digits = name.startsWith('ops') ? 0 : 2;
      rows.push([label, name, fmt(a, digits), fmt(b, digits), name === 'errors' ? '' : ratio(a, b)]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((x, i) => (i < 2 ? String(x).padEnd(widths[i]) : String(x).padStart(widths[i]))).join('  ');
  L.push(line(head), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line));
  L.push(`ratios: ops/s above 1× means Weft is faster; latency below 1× means Weft answers sooner`);
  return L;
}

function renderHuman(results) {
  const L = [];
  const o = results.options;
  L.push(
    `Weft bench ${results.date} — target ${results.target.mode === 'spawned' ? `spawned host pid ${results.target.pid} (store ${o.store})` : `external ${results.target.url} (store label ${o.store})`}`,
  );
  L.push(
    `machine: ${results.machine.cores} cores, node ${results.machine.node}${results.code ? `; code ${results.code.head}${results.code.uncommittedFilesInPackages ? ` + ${results.code.uncommittedFilesInPackages} uncommitted files in packages/` : ''}` : ''}; C=${o.concurrency}, duration ${o.duration}s (+${o.warmup}s warmup) per phase, wait=${o.wait}, workflow ${o.workflow}${o.profile ? ', PROFILING (slower)' : ''}`,
  );
  L.push('');
  const head = [
    'phase',
    'C',
    'ok',
    'err',
    'ops/s',
    'p50 ms',
    'p95 ms',
    'p99 ms',
    'max ms',
    'host CPU ms/op',
    'host cores',
    'host peak RSS MB',
    'client CPU ms/op',
    'client cores',
    'box busy cores',
    'other cores',
  ];
  const rows = [];
  for (const p of results.phases) {
    const main = p.latencyMs.latency;
    const label = `${p.phase === 'e2e' || p.phase === 'collapse' ? `${p.phase} (${o.wait})` : p.phase}${p.attempts > 1 ? ` [${p.attempt}/${p.attempts}]` : ''}`;
    rows.push([
      label,
      p.concurrency,
      p.ok,
      p.errors,
      fmt(p.opsPerS, 0),
      fmt(main?.p50),
      fmt(main?.p95),
      fmt(main?.p99),
      fmt(main?.max, 1),
      fmt(p.host?.cpuMsPerOp, 3),
      fmt(p.host?.cpuCores),
      fmt(p.host?.peakRssMb, 1),
      fmt(p.clientCpuMsPerOp, 3),
      fmt(p.clientCpuCores),
      fmt(p.machineBusyCores),
      fmt(p.otherCores),
    ]);
    if (p.latencyMs.firstEvent) {
      const f = p.latencyMs.firstEvent;
      rows.push(['  └ SSE first data:', '', '', '', '', fmt(f.p50), fmt(f.p95), fmt(f.p99), fmt(f.max, 1), '', '', '', '', '', '', '']);
    }
    if (p.latencyMs.delivery) {
      const f = p.latencyMs.delivery;
      rows.push(['  └ append→frame:', '', '', '', '', fmt(f.p50), fmt(f.p95), fmt(f.p99), fmt(f.max, 1), '', '', '', '', '', '', '']);
    }
    const q = p.quiet;
    if (q && p.otherCores > o.noisyCores) {
      const ql = q.latencyMs?.latency;
      rows.push([
        `  └ quiet s ${q.quietSeconds}/${q.ofSeconds}`,
        '',
        '',
        '',
        fmt(q.opsPerS, 0),
        fmt(ql?.p50),
        fmt(ql?.p95),
        fmt(ql?.p99),
        fmt(ql?.max, 1),
        fmt(q.hostCpuMsPerOp, 3),
        '',
        '',
        '',
        '',
        '',
        '',
      ]);
      const qf = q.latencyMs?.firstEvent;
      if (qf) rows.push(['    └ SSE first data:', '', '', '', '', fmt(qf.p50), fmt(qf.p95), fmt(qf.p99), fmt(qf.max, 1), '', '', '', '', '', '', '']);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  L.push(line(head));
  L.push(widths.map((w) => '─'.repeat(w)).join('  '));
  for (const r of rows) L.push(line(r));
  L.push('');
  L.push(
    "latency: create = POST /v1/runs round trip; e2e/collapse/sse = POST → terminal; SSE first data: = GET …/events?streamMode=debug start → first data: frame; append→frame = arrival − the event's timestamp, worst frame of each stream",
  );
  L.push('other cores = box busy − host − client (− postgres server): CPU used by anything else on the machine; > ~0.1 means interference');
  if (results.phases.some((p) => p.attempts > 1))
    L.push('[k/n]: the phase was run n times because other processes loaded the machine; attempt k (the quietest) is shown');
  if (results.phases.some((p) => p.quiet && p.otherCores > o.noisyCores)) {
    L.push(
      `quiet s q/N: the same figures over only the q one-second slices (of N, pooled over all attempts) in which other processes used ≤ ${o.noisyCores} cores; targets use these`,
    );
  }
  const logged = results.phases.filter((p) => p.host?.logLinesPerOp !== undefined);
  if (logged.length > 0)
    L.push(
      `host log (${results.options.hostLogLevel}): ${logged.map((p) => `${p.phase} ${p.host.logLinesPerOp} lines, ${p.host.logBytesPerOp} B per op`).join('; ')}`,
    );
  if (results.compare) L.push('', ...renderCompare(results));
  if (results.target.mode !== 'spawned')
    L.push('host CPU / RSS: not available (external host: run without --base-url to let the bench spawn and sample the host)');
  for (const p of results.phases) {
    if (p.errors) L.push(`! ${p.phase}: ${p.errors} errors ${JSON.stringify(p.errorKinds)} e.g. ${p.errorSamples[0]}`);
    if (p.postgresServer)
      L.push(`postgres server processes during ${p.phase}: ${fmt(p.postgresServer.cpuMsPerOp, 3)} CPU ms/op, ${fmt(p.postgresServer.cpuCores)} cores`);
  }
  if (results.host?.peakRssMbLifetime) L.push(`host peak RSS over its lifetime (VmHWM): ${results.host.peakRssMbLifetime} MB`);
  L.push('');
  const th = ['metric', 'measured', 'target', 'ratio', 'verdict'];
  const tr = results.targets.map((t) => [
    t.metric,
    t.measured === null ? '—' : `${fmt(t.measured, t.unit === 'runs/s' ? 0 : 3)} ${t.unit}`,
    t.target ?? '—',
    t.ratio === null ? '—' : `${t.ratio.toFixed(2)}×`,
    `${t.verdict}${t.note ? ` (${t.note})` : ''}`,
  ]);
  const tw = th.map((h, i) => Math.max(h.length, ...tr.map((r) => String(r[i]).length)));
  const tl = (r) => r.map((c, i) => String(c).padEnd(tw[i])).join('  ');
  L.push('targets (ratio > 1 = better than target):');
  L.push(tl(th));
  L.push(tw.map((w) => '─'.repeat(w)).join('  '));
  for (const r of tr) L.push(tl(r));
  if (results.profile) {
    L.push('');
    L.push(`host CPU profile: ${results.profile.file}`);
    L.push(formatProfileSummary(results.profile.summary));
  }
  return L.join('\n');
}

// ───────────────────────────── main ─────────────────────────────

/** The commit measured and whether packages/ had uncommitted changes (best effort). */
function gitInfo(dir) {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'packages'], { cwd: dir, encoding: 'utf8' }).split('\n').filter(Boolean).length;
    return { dir, head, uncommittedFilesInPackages: dirty };
  } catch {
    return undefined;
  }
}

async function main() {
  const opts = parseCli(process.argv.slice(2));
  const log = (m) => process.stderr.write(`[bench] ${m}\n`);
  const perPhase = (opts.quietWait + opts.warmup + opts.duration + 10) * (opts.retryNoisy + 1);
  const planned = opts.phases.length * perPhase * (opts.compare ? 2 : 1) + 120;
  const guard = setTimeout(() => {
    log(`global deadline (${planned}s) passed: aborting`);
    void cleanup().finally(() => process.exit(3));
  }, planned * 1000);
  guard.unref();

  let host;
  const cleanup = async () => {
    if (host) await host.stop().catch((e) => log(`host stop failed: ${e.message}`));
  };
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      log(`${sig}: stopping`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  let base;
  let apiKey;
  if (opts.baseUrl) {
    base = assertLoopback(opts.baseUrl);
    apiKey = opts.apiKey;
  } else {
    host = await spawnHost(opts, log);
    host.store = opts.store;
    base = assertLoopback(host.url);
    apiKey = host.apiKey;
    log(`host pid ${host.pid} listening on ${host.url} (store ${opts.store})`);
  }

  const results = {
    date: new Date().toISOString(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    code: host ? gitInfo(resolve(opts.hostDir ?? REPO)) : undefined,
    options: {
      store: opts.store,
      concurrency: opts.concurrency,
      duration: opts.duration,
      warmup: opts.warmup,
      collapseConcurrency: opts.collapseConcurrency,
      phases: opts.phases,
      wait: opts.wait,
      workflow: opts.workflow,
      profile: opts.profile,
      quietWait: opts.quietWait,
      retryNoisy: opts.retryNoisy,
      noisyCores: opts.noisyCores,
    },
    target: host
      ? { mode: 'spawned', url: host.url, pid: host.pid }
      : { mode: 'external', url: base.toString(), note: 'host CPU and RSS not available for an external host' },
    phases: [],
  };
  results.options.hostLogLevel = host ? (opts.hostLogLevel ?? 'default (info)') : undefined;
  results.options.workflowDir = host ? opts.workflowDir : undefined;
  // The measured targets: this host, and with --compare the other one (external, no CPU/RSS).
  const targets = [{ label: 'weft', base, apiKey, host, workflow: opts.workflow }];
  if (opts.compare) {
    targets.push({ label: opts.compareLabel, base: assertLoopback(opts.compare), apiKey: opts.compareKey, host: undefined, workflow: opts.compareWorkflow });
    results.compare = { label: opts.compareLabel, url: opts.compare, workflow: opts.compareWorkflow, phases: [] };
  }
  try {
    // Sanity check: the workflow runs to a terminal state (on each target).
    for (const t of targets) {
      const agent = new http.Agent({ keepAlive: false });
      const client = makeClient(t.base, t.apiKey, agent);
      const runId = await createRun(client, createPayload(t.workflow));
      const w = await waitPoll(client, runId);
      log(`sanity run ${runId} on ${t.label}: ${w.status}`);
      agent.destroy();
    }
    for (const phase of opts.phases) {
      for (const t of targets) {
        const best = await measurePhase(phase, t);
        if (t === targets[0]) results.phases.push(best);
        else results.compare.phases.push(best);
      }
    }
    if (host) {
      const m = procMem(host.pid);
      results.host = { peakRssMbLifetime: m ? +(m.hwmKb / 1024).toFixed(1) : null, rssMbAtEnd: m ? +(m.rssKb / 1024).toFixed(1) : null };
    }
  } finally {
    await cleanup();
  }
  async function measurePhase(phase, target) {
    const payload = createPayload(target.workflow);
    const common = { base: target.base, apiKey: target.apiKey, warmup: opts.warmup, maxOps: opts.maxOps, host: target.host, log };
    const wait = opts.wait === 'sse' ? (c, id) => waitSse(c, id) : (c, id) => waitPoll(c, id);
    const e2eOp = async (c) => {
      const t = performance.now();
      const id = await createRun(c, payload);
      const w = await wait(c, id);
      return { latency: performance.now() - t, polls: w.polls, runStatus: w.status };
    };
    const sseOp = async (c) => {
      const t = performance.now();
      const id = await createRun(c, payload);
      const ts = performance.now();
      const r = await c.sse(`/v1/runs/${encodeURIComponent(id)}/events?streamMode=debug`, ts);
      if (r.firstDataMs === undefined) throw new HttpError('sse_no_data', `SSE for ${id} closed without a data: frame`);
      if (!r.terminal) throw new HttpError('sse_no_terminal', `SSE for ${id} closed without a terminal event`);
      return { latency: performance.now() - t, firstEvent: r.firstDataMs, ...(r.deliveryMs === undefined ? {} : { delivery: r.deliveryMs }) };
    };
    const runOnce = (phase) => {
      switch (phase) {
        case 'create':
          return runPhase({
            ...common,
            name: 'create',
            concurrency: opts.concurrency,
            duration: opts.duration,
            fields: ['latency'],
            op: async (c) => {
              const t = performance.now();
              await createRun(c, payload);
              return { latency: performance.now() - t };
            },
          });
        case 'e2e':
          return runPhase({ ...common, name: 'e2e', concurrency: opts.concurrency, duration: opts.duration, fields: ['latency'], op: e2eOp });
        case 'sse':
          return runPhase({
            ...common,
            name: 'sse',
            concurrency: opts.concurrency,
            duration: opts.duration,
            fields: ['latency', 'firstEvent', 'delivery'],
            op: sseOp,
          });
        case 'sse1':
          return runPhase({
            ...common,
            name: 'sse1',
            concurrency: 1,
            duration: Math.min(opts.duration, 5),
            warmup: Math.min(opts.warmup, 1),
            fields: ['latency', 'firstEvent', 'delivery'],
            op: sseOp,
          });
        default:
          return runPhase({ ...common, name: 'collapse', concurrency: opts.collapseConcurrency, duration: opts.duration, fields: ['latency'], op: e2eOp });
      }
    };
    {
      // A phase disturbed by other processes (other cores > --noisy-cores) is run again, up to
      // --retry-noisy times; the quietest attempt is reported and the others are kept in JSON.
      // Also pooled: the quiet seconds of all attempts; retrying stops once they add up to
      // 80 % of --duration.
      const attempts = [];
      let pooled;
      for (let a = 0; a <= opts.retryNoisy; a++) {
        const idleBefore = opts.quietWait > 0 ? await waitQuiet(opts.quietWait, log) : undefined;
        const r = await runOnce(phase);
        if (idleBefore !== undefined) r.machineBusyCoresBeforePhase = idleBefore;
        attempts.push(r);
        if (r.otherCores === undefined) break;
        pooled = poolQuiet(attempts, opts.noisyCores);
        if (r.otherCores <= opts.noisyCores || pooled.quietSeconds >= 0.8 * Math.min(opts.duration, phase === 'sse1' ? 5 : opts.duration)) break;
        if (a < opts.retryNoisy)
          log(
            `phase ${phase}: other processes used ${r.otherCores} cores (> ${opts.noisyCores}); ${pooled.quietSeconds} quiet seconds so far: running it again (${a + 1}/${opts.retryNoisy})`,
          );
      }
      const best = attempts.reduce((x, y) => ((y.otherCores ?? 0) < (x.otherCores ?? 0) ? y : x));
      best.attempt = attempts.indexOf(best) + 1;
      best.attempts = attempts.length;
      if (pooled) best.quiet = pooled;
      if (attempts.length > 1) {
        best.discardedAttempts = attempts
          .filter((x) => x !== best)
          .map((x) => ({ opsPerS: x.opsPerS, otherCores: x.otherCores, errors: x.errors, latencyMs: x.latencyMs, host: x.host }));
      }
      if (target.label !== 'weft') best.target = target.label;
      return best;
    }
  }
  if (host?.profDir) {
    const file = join(host.profDir, 'host.cpuprofile');
    if (existsSync(file)) {
      const summary = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')), { top: 25 });
      writeFileSync(join(host.profDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
      writeFileSync(join(host.profDir, 'summary.txt'), `${formatProfileSummary(summary)}\n`);
      results.profile = { file: resolve(file), summary };
    } else {
      log(`no profile found in ${host.profDir}`);
    }
  }
  results.targets = evaluateTargets(results, opts, Boolean(host));
  if (opts.out) {
    mkdirSync(dirname(resolve(opts.out)), { recursive: true });
    writeFileSync(opts.out, `${JSON.stringify(results, null, 2)}\n`);
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else process.stdout.write(`${renderHuman(results)}\n`);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`[bench] failed: ${e?.stack ?? e}\n`);
    process.exit(1);
  },
);
