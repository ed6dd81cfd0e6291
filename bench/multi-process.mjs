#!/usr/bin/env node
/**
 * Postgres end-to-end throughput with 1, 2 and 3 host processes on one database (a benchmark,
 * not a test: it prints, never fails).
 *
 * For each process count N it creates a throwaway database on the server of WEFT_TEST_PG_URL
 * (default postgres://postgres@127.0.0.1:5432/postgres), spawns N hosts with the `npm start`
 * defaults (log level included; stdout goes to /dev/null, as it would to a log collector), and
 * runs C virtual users spread round-robin over the hosts: each creates a `conformance-noop` run
 * on its host and long-polls it there to its terminal event. Prints runs/s and latency
 * percentiles per N, and the ratio to one process.
 *
 *   npx tsc -b && node bench/multi-process.mjs [--processes 1,2,3] [-c 16] [-d 15] [--warmup 3]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CONTRACTS = resolve(REPO, process.env.WEFT_CONTRACTS_DIR || '../shared/contracts');
const KEY = 'bench-multi-process-key-0123456789';
const flag = (names, dflt) => {
  const i = process.argv.findIndex((a) => names.includes(a));
  return i > 0 ? process.argv[i + 1] : dflt;
};
const COUNTS = String(flag(['--processes'], '1,2,3'))
  .split(',')
  .map(Number);
const CONC = Number(flag(['-c', '--concurrency'], 16));
const DURATION = Number(flag(['-d', '--duration'], 15)) * 1000;
const WARMUP = Number(flag(['--warmup'], 3)) * 1000;
const WORKFLOW = String(flag(['--workflow'], 'conformance-noop'));
const admin = process.env.WEFT_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

const freePort = () =>
  new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });

async function host(url) {
  const port = await freePort();
  const devnull = openSync('/dev/null', 'w');
  const child = spawn(process.execPath, [join(REPO, 'packages/server/dist/main.js')], {
    env: {
      PATH: process.env.PATH,
      WEFT_STORE: 'postgres',
      WEFT_PG_URL: url,
      WEFT_PORT: String(port),
      WEFT_API_KEYS: `bench:${KEY}`,
      WEFT_WORKFLOWS_DIR: `${join(CONTRACTS, 'conformance-fixtures')}:${join(REPO, 'examples/workflows')}`,
    },
    stdio: ['ignore', devnull, 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`host exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${base}/.well-known/openwop`)).ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error('host did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, port, agent: new http.Agent({ keepAlive: true, maxSockets: CONC }) };
}

function request(h, method, path, body) {
  return new Promise((res, rej) => {
    const headers = { authorization: `Bearer ${KEY}` };
    if (body) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    const req = http.request({ agent: h.agent, hostname: '127.0.0.1', port: h.port, method, path, headers }, (r) => {
      let data = '';
      r.setEncoding('utf8');
      r.on('data', (d) => (data += d));
      r.on('end', () => res({ status: r.statusCode, body: data }));
    });
    req.on('error', rej);
    req.end(body);
  });
}

async function oneRun(h, payload) {
  const c = await request(h, 'POST', '/v1/runs', payload);
  if (c.status !== 201) throw new Error(`POST /v1/runs ${c.status}: ${c.body.slice(0, 200)}`);
  const { runId } = JSON.parse(c.body);
  for (let cursor = -1, i = 0; i < 100; i++) {
    const r = await request(h, 'GET', `/v1/runs/${runId}/events/poll?lastSequence=${cursor}&timeout=10`);
    if (r.status !== 200) throw new Error(`poll ${r.status}`);
    const b = JSON.parse(r.body);
    if (b.isTerminal) {
      if (b.runStatus !== 'completed') throw new Error(`run ${runId} ended ${b.runStatus}`);
      return;
    }
    if (typeof b.lastEventSeq === 'number') cursor = b.lastEventSeq;
  }
  throw new Error(`run ${runId} did not end`);
}

const q = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];

async function measure(n) {
  const name = `weft_bench_${randomBytes(5).toString('hex')}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  const hosts = [];
  try {
    // One host first, so the migrations run once; the rest join the migrated database.
    hosts.push(await host(url.toString()));
    for (let i = 1; i < n; i++) hosts.push(await host(url.toString()));
    const payload = JSON.stringify({ workflowId: WORKFLOW });
    const lat = [];
    let errors = 0;
    const start = Date.now();
    const recordFrom = start + WARMUP;
    const end = recordFrom + DURATION;
    await Promise.all(
      Array.from({ length: CONC }, async (_, vu) => {
        const h = hosts[vu % n];
        while (Date.now() < end) {
          const t0 = performance.now();
          const began = Date.now();
          try {
            await oneRun(h, payload);
            if (began >= recordFrom && Date.now() <= end) lat.push(performance.now() - t0);
          } catch (e) {
            errors++;
            if (errors <= 3) console.error(String(e));
          }
        }
      }),
    );
    lat.sort((x, y) => x - y);
    return { n, runsPerSec: lat.length / (DURATION / 1000), p50: q(lat, 0.5), p99: q(lat, 0.99), runs: lat.length, errors };
  } finally {
    for (const h of hosts) h.child.kill('SIGTERM');
    await Promise.all(hosts.map((h) => new Promise((r) => (h.child.exitCode !== null ? r() : h.child.once('exit', r)))));
    await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [name]);
    await c.query(`DROP DATABASE IF EXISTS ${name}`);
    await c.end();
  }
}

const results = [];
for (const n of COUNTS) {
  const r = await measure(n);
  results.push(r);
  const base = results[0];
  console.log(
    `${n} process${n === 1 ? '' : 'es'}: ${r.runsPerSec.toFixed(0)} runs/s (${(r.runsPerSec / base.runsPerSec).toFixed(2)}× of ${base.n}), e2e p50 ${r.p50?.toFixed(1)} ms, p99 ${r.p99?.toFixed(1)} ms, ${r.runs} runs, ${r.errors} errors (C=${CONC}, ${DURATION / 1000} s, ${WORKFLOW})`,
  );
}
