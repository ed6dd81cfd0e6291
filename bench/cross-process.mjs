#!/usr/bin/env node
/**
 * Cross-process event latency on Postgres (a benchmark, not a test: it prints, never fails).
 *
 * Spawns two hosts on one throwaway database (on the server of WEFT_TEST_PG_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres), starts runs of `weft-sleep` on A and streams
 * each on B over SSE. For every event B receives live, latency = time the frame arrived at the
 * client − the event's `timestamp` (the step time on A; same machine clock). Prints p50/p95/p99.
 *
 *   npx tsc -b && node bench/cross-process.mjs [--runs 100] [--delay-ms 200] [--concurrency 8] [--same]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CONTRACTS = resolve(REPO, process.env.WEFT_CONTRACTS_DIR || '../shared/contracts');
const KEY = 'bench-cross-process-key-0123456789';
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('runs', 100);
const DELAY = arg('delay-ms', 200);
const CONC = arg('concurrency', 8);
/** `--same`: stream on A itself (the in-process baseline). */
const SAME = process.argv.includes('--same');
const admin = process.env.WEFT_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

function host(name, url) {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [join(REPO, 'packages/server/dist/main.js')], {
      env: {
        PATH: process.env.PATH,
        WEFT_STORE: 'postgres',
        WEFT_PG_URL: url,
        WEFT_PORT: '0',
        WEFT_API_KEYS: `bench:${KEY}`,
        WEFT_LOG_LEVEL: 'error',
        WEFT_WORKFLOWS_DIR: `${join(CONTRACTS, 'conformance-fixtures')}:${join(REPO, 'examples/workflows')}`,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const t = setTimeout(() => rej(new Error(`${name} did not start`)), 20_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(t);
        res({ child, url: m[1] });
      }
    });
  });
}

async function one(a, b, lat) {
  const r = await fetch(`${a.url}/v1/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ workflowId: 'weft-sleep', inputs: { delayMs: DELAY } }),
  });
  const { runId } = await r.json();
  const res = await fetch(`${b.url}/v1/runs/${runId}/events?streamMode=debug`, { headers: { authorization: `Bearer ${KEY}` } });
  const dec = new TextDecoder();
  let buf = '';
  let live = false;
  for await (const chunk of res.body) {
    const now = Date.now();
    buf += dec.decode(chunk, { stream: true });
    for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (!data) continue;
      const ev = JSON.parse(data);
      // The first node.started may be in the backlog; what follows the delay arrives live.
      if (ev.type === 'node.completed' && ev.nodeId === 'sleep') live = true;
      if (live) lat.push(now - Date.parse(ev.timestamp));
    }
  }
}

const q = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const name = `weft_bench_${randomBytes(5).toString('hex')}`;
const c = new pg.Client({ connectionString: admin });
await c.connect();
await c.query(`CREATE DATABASE ${name}`);
const url = new URL(admin);
url.pathname = `/${name}`;
const a = await host('A', url.toString());
const b = await host('B', url.toString());
try {
  const lat = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONC }, async () => {
      while (next < RUNS) {
        next++;
        await one(a, SAME ? a : b, lat);
      }
    }),
  );
  lat.sort((x, y) => x - y);
  console.log(
    `${SAME ? 'same-process' : 'cross-process'} SSE latency (A appends, ${SAME ? 'A' : 'B'} streams), ${lat.length} live events over ${RUNS} runs, C=${CONC}: p50 ${q(lat, 0.5)} ms, p95 ${q(lat, 0.95)} ms, p99 ${q(lat, 0.99)} ms, max ${lat.at(-1)} ms`,
  );
} finally {
  a.child.kill('SIGKILL');
  b.child.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [name]);
  await c.query(`DROP DATABASE IF EXISTS ${name}`);
  await c.end();
}
