#!/usr/bin/env node
/**
 * Memory at scale: puts N runs in flight (each waiting on a human approval, workflow
 * `weft-review` from examples/workflows) and opens one SSE stream per run, then reports the
 * host's RSS. Target (issue #9): 10,000 runs + 10,000 open streams at ≤ 300 MB.
 *
 *   npx tsc -b && node bench/memory.mjs                      # SQLite, 10,000 + 10,000
 *   node bench/memory.mjs --store memory --runs 2000 --streams 2000
 *   node bench/memory.mjs --json
 *
 * The host is spawned at the `npm start` defaults (log level info, stdout drained), on a fresh
 * data directory that is removed afterwards. Loopback only; every wait is bounded.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'sqlite' },
    runs: { type: 'string', default: '10000' },
    streams: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '32' },
    workflow: { type: 'string', default: 'weft-review' },
    'host-arg': { type: 'string', multiple: true, default: [] },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    'usage: node bench/memory.mjs [--store sqlite|memory] [--runs N] [--streams N] [--concurrency C] [--workflow ID] [--host-arg ARG] [--json]\n',
  );
  process.exit(0);
}
const RUNS = Number(values.runs);
const STREAMS = Math.min(Number(values.streams), RUNS);
const C = Number(values.concurrency);
const log = (m) => process.stderr.write(`[memory] ${m}\n`);

function procMem(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0);
  return { rssMb: +(kb('VmRSS') / 1024).toFixed(1), hwmMb: +(kb('VmHWM') / 1024).toFixed(1) };
}

async function spawnHost() {
  const dataDir = mkdtempSync(join(tmpdir(), 'weft-memory-'));
  const apiKey = randomBytes(24).toString('base64url').slice(0, 32);
  const env = {
    ...process.env,
    WEFT_PORT: '0',
    WEFT_HOST: '127.0.0.1',
    WEFT_STORE: values.store,
    WEFT_DATA_DIR: dataDir,
    WEFT_API_KEYS: `bench:${apiKey}`,
    WEFT_WORKFLOWS_DIR: join(REPO, 'examples', 'workflows'),
  };
  delete env.WEFT_LOG_LEVEL;
  const child = spawn(process.execPath, [...values['host-arg'], join(REPO, 'packages/server/dist/main.js')], {
    cwd: REPO,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logBytes = 0;
  let errText = '';
  child.stderr.on('data', (d) => {
    errText = (errText + d).slice(-2000);
  });
  const url = await new Promise((res, rej) => {
    let buf = '';
    const timer = setTimeout(() => rej(new Error('host did not start within 60 s')), 60_000);
    const onData = (d) => {
      buf += d.toString('utf8');
      const m = /listening on (http:\/\/\S+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.stdout.on('data', (x) => {
          logBytes += x.length;
        });
        res(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => rej(new Error(`host exited with ${code}: ${errText}`)));
  });
  return {
    url: new URL(url),
    apiKey,
    pid: child.pid,
    logBytes: () => logBytes,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(t);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function request(h, agent, method, path, body) {
  return new Promise((res, rej) => {
    const payload = body ? Buffer.from(JSON.stringify(body)) : undefined;
    const req = http.request(
      {
        agent,
        hostname: h.url.hostname,
        port: h.url.port,
        method,
        path,
        headers: { authorization: `Bearer ${h.apiKey}`, ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}) },
      },
      (r) => {
        let t = '';
        r.setEncoding('utf8');
        r.on('data', (d) => {
          t += d;
        });
        r.on('end', () => res({ status: r.statusCode, body: t }));
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', rej);
    req.end(payload);
  });
}

/** Opens one SSE stream; resolves when its first frame after `: connected` arrived (the backlog). */
function openStream(h, runId) {
  return new Promise((res, rej) => {
    const req = http.request({
      agent: false,
      hostname: h.url.hostname,
      port: h.url.port,
      path: `/v1/runs/${runId}/events`,
      headers: { authorization: `Bearer ${h.apiKey}`, accept: 'text/event-stream' },
    });
    const timer = setTimeout(() => req.destroy(new Error('stream did not deliver its backlog within 60 s')), 60_000);
    req.on('response', (r) => {
      if (r.statusCode !== 200) {
        clearTimeout(timer);
        r.resume();
        rej(new Error(`stream ${runId}: HTTP ${r.statusCode}`));
        return;
      }
      let seen = '';
      const onData = (d) => {
        seen += d;
        if (seen.includes('\ndata: ')) {
          clearTimeout(timer);
          r.off('data', onData);
          r.on('data', () => {});
          res(req);
        }
      };
      r.setEncoding('utf8');
      r.on('data', onData);
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    req.end();
  });
}

async function pool(n, c, fn) {
  let next = 0;
  const out = new Array(n);
  await Promise.all(
    Array.from({ length: Math.min(c, n) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

const host = await spawnHost();
log(`host pid ${host.pid} at ${host.url.href} (store ${values.store}, log level default)`);
const result = { date: new Date().toISOString(), store: values.store, workflow: values.workflow, runs: RUNS, streams: STREAMS, node: process.version };
const streams = [];
try {
  result.rssIdle = procMem(host.pid);
  const agent = new http.Agent({ keepAlive: true, maxSockets: C });
  const t0 = performance.now();
  const ids = await pool(RUNS, C, async () => {
    const r = await request(host, agent, 'POST', '/v1/runs', { workflowId: values.workflow });
    if (r.status !== 201) throw new Error(`POST /v1/runs: ${r.status} ${r.body.slice(0, 200)}`);
    return JSON.parse(r.body).runId;
  });
  result.createSeconds = +((performance.now() - t0) / 1000).toFixed(1);
  // Every run must be waiting on its approval (in flight), not ended.
  const last = await request(host, agent, 'GET', `/v1/runs/${ids[ids.length - 1]}`);
  result.lastRunStatus = JSON.parse(last.body).status;
  agent.destroy();
  result.rssRuns = procMem(host.pid);
  log(`${RUNS} runs created in ${result.createSeconds}s (last: ${result.lastRunStatus}); RSS ${result.rssRuns.rssMb} MB`);
  const t1 = performance.now();
  await pool(STREAMS, C, async (i) => {
    streams.push(await openStream(host, ids[i]));
  });
  result.openSeconds = +((performance.now() - t1) / 1000).toFixed(1);
  result.openStreams = streams.length;
  result.rssStreams = procMem(host.pid);
  log(`${streams.length} SSE streams open in ${result.openSeconds}s; RSS ${result.rssStreams.rssMb} MB (peak ${result.rssStreams.hwmMb} MB)`);
  result.hostLogBytes = host.logBytes();
  if (process.env.MEMORY_SNAPSHOT) {
    process.kill(host.pid, 'SIGUSR2');
    await new Promise((r) => setTimeout(r, Number(process.env.MEMORY_SNAPSHOT)));
  }
} finally {
  for (const s of streams) s.destroy();
  await host.stop();
}
result.targetMb = 300;
result.verdict = result.rssStreams.rssMb <= 300 ? 'MET' : 'MISSED';
if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
else {
  process.stdout.write(
    `${result.runs} runs in flight (${result.workflow}, last ${result.lastRunStatus}) + ${result.openStreams} open SSE streams, store ${result.store}:\n` +
      `  host RSS idle ${result.rssIdle.rssMb} MB → after runs ${result.rssRuns.rssMb} MB → with streams ${result.rssStreams.rssMb} MB (VmHWM ${result.rssStreams.hwmMb} MB)\n` +
      `  target ≤ 300 MB: ${result.verdict}\n`,
  );
}
process.exit(0);
