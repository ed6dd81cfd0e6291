#!/usr/bin/env node
/**
 * Webhook dispatch throughput and append→delivery latency to a loopback receiver (a
 * benchmark, not a test: it prints, never fails).
 *
 * Spawns one host with the `npm start` defaults (SQLite in a temporary data directory, log
 * level info to /dev/null) except that `WEFT_WEBHOOK_ALLOW` names the loopback receiver this
 * script runs (the only way a plain-http loopback receiver is accepted). Registers one
 * subscription for every event type of `conformance-noop` (4 events per run), then C virtual
 * users create runs as fast as they complete (long-polled to the terminal event) for the
 * warm-up plus the recorded window. Reports:
 *
 * - deliveries/s: signed POSTs the receiver answered (204) inside the recorded window;
 * - append→delivery latency: receiver arrival time minus the event's `timestamp` (stamped by
 *   the engine in the step that appended it, so it includes the append's commit), p50/p95/p99;
 * - the delivery records' failures (should be 0) and runs/s for context.
 *
 * `--delivery callback` registers nothing: every run is created with a `callbackUrl` (its own
 * callback subscription and secret, decision 0025), so the figures are the cost of a callback
 * per run — its registration in `POST /v1/runs` and one durable delivery (`run.completed`).
 *
 *   npx tsc -b && node bench/webhooks.mjs [-c 16] [-d 15] [--warmup 3] [--store sqlite|memory] [--delivery best-effort|durable|callback]
 */
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CONTRACTS = resolve(REPO, process.env.WEFT_CONTRACTS_DIR || '../shared/contracts');
const KEY = 'bench-webhooks-key-0123456789abcdef';
const flag = (names, dflt) => {
  const i = process.argv.findIndex((a) => names.includes(a));
  return i > 0 ? process.argv[i + 1] : dflt;
};
const CONC = Number(flag(['-c', '--concurrency'], 16));
const DURATION = Number(flag(['-d', '--duration'], 15)) * 1000;
const WARMUP = Number(flag(['--warmup'], 3)) * 1000;
const STORE = String(flag(['--store'], 'sqlite'));
const DELIVERY = String(flag(['--delivery'], 'best-effort'));

const freePort = () =>
  new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });

const q = (xs, p) => (xs.length === 0 ? Number.NaN : xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]);

// ---------------------------------------------------------------- receiver
/** Signing secret by `X-openwop-Webhook-Id` (one subscription, or one callback per run). */
const secrets = new Map();
let recordFrom = Number.POSITIVE_INFINITY;
let recordTo = Number.POSITIVE_INFINITY;
const latencies = [];
let received = 0;
let badSignatures = 0;
const receiver = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const at = Date.now();
    const body = Buffer.concat(chunks).toString('utf8');
    const ts = req.headers['x-openwop-timestamp'];
    const secret = secrets.get(req.headers['x-openwop-webhook-id']) ?? '';
    const want = `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`;
    if (req.headers['x-openwop-signature'] !== want) badSignatures++;
    res.writeHead(204).end();
    if (at < recordFrom || at > recordTo) return;
    received++;
    latencies.push(at - Date.parse(JSON.parse(body).event.timestamp));
  });
});
await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
const rport = receiver.address().port;

// ---------------------------------------------------------------- host
const port = await freePort();
const dataDir = mkdtempSync(join(tmpdir(), 'weft-bench-webhooks-'));
const child = spawn(process.execPath, [join(REPO, 'packages/server/dist/main.js')], {
  env: {
    PATH: process.env.PATH,
    WEFT_STORE: STORE,
    WEFT_DATA_DIR: dataDir,
    WEFT_PORT: String(port),
    WEFT_API_KEYS: `bench:${KEY}`,
    WEFT_WEBHOOK_ALLOW: `127.0.0.1:${rport}`,
    WEFT_WORKFLOWS_DIR: `${join(CONTRACTS, 'conformance-fixtures')}:${join(REPO, 'examples/workflows')}`,
  },
  stdio: ['ignore', openSync('/dev/null', 'w'), 'inherit'],
});
const agent = new http.Agent({ keepAlive: true, maxSockets: CONC + 2 });
function request(method, path, body) {
  return new Promise((res, rej) => {
    const headers = { authorization: `Bearer ${KEY}` };
    if (body) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    const r = http.request({ agent, hostname: '127.0.0.1', port, method, path, headers }, (x) => {
      let data = '';
      x.setEncoding('utf8');
      x.on('data', (d) => (data += d));
      x.on('end', () => res({ status: x.statusCode, body: data }));
    });
    r.on('error', rej);
    r.end(body);
  });
}
try {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`host exited with ${child.exitCode}`);
    try {
      if ((await request('GET', '/.well-known/openwop')).status === 200) break;
    } catch {}
    if (Date.now() > deadline) throw new Error('host did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const callbacks = DELIVERY === 'callback';
  let hook;
  if (!callbacks) {
    const reg = await request(
      'POST',
      '/v1/webhooks',
      JSON.stringify({ url: `http://127.0.0.1:${rport}/hook`, events: ['run.started', 'node.started', 'node.completed', 'run.completed'], delivery: DELIVERY }),
    );
    if (reg.status !== 201) throw new Error(`register → ${reg.status} ${reg.body}`);
    hook = JSON.parse(reg.body);
    secrets.set(hook.webhookId, hook.secret);
  }
  const payload = JSON.stringify({ workflowId: 'conformance-noop', ...(callbacks ? { callbackUrl: `http://127.0.0.1:${rport}/cb` } : {}) });
  const callbackIds = [];
  const start = Date.now();
  recordFrom = start + WARMUP;
  recordTo = recordFrom + DURATION;
  let runs = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: CONC }, async () => {
      while (Date.now() < recordTo) {
        const began = Date.now();
        try {
          const c = await request('POST', '/v1/runs', payload);
          if (c.status !== 201) throw new Error(`POST /v1/runs ${c.status}`);
          const { runId, callbackId, callbackSecret } = JSON.parse(c.body);
          if (callbackId) {
            secrets.set(callbackId, callbackSecret);
            callbackIds.push(callbackId);
          }
          for (let cursor = -1, i = 0; i < 100; i++) {
            const r = JSON.parse((await request('GET', `/v1/runs/${runId}/events/poll?lastSequence=${cursor}&timeout=10`)).body);
            if (r.isTerminal) break;
            cursor = r.lastEventSeq;
          }
          if (began >= recordFrom && Date.now() <= recordTo) runs++;
        } catch (e) {
          if (++errors <= 3) console.error(String(e));
        }
      }
    }),
  );
  // Let deliveries of the window's last appends land (they are recorded by arrival time).
  await new Promise((r) => setTimeout(r, 1000));
  let failed = 0;
  for (const id of hook ? [hook.webhookId] : callbackIds.slice(-50))
    failed += JSON.parse((await request('GET', `/v1/webhooks/${id}/deliveries?limit=500`)).body).deliveries.filter((d) => d.status !== 'delivered').length;
  latencies.sort((a, b) => a - b);
  const s = DURATION / 1000;
  console.log(
    `store ${STORE}, ${DELIVERY}, C=${CONC}, ${s} s recorded (+${WARMUP / 1000} s warm-up), ${callbacks ? '1 callback event' : '4 subscribed events'} per run`,
  );
  console.log(`runs/s            ${(runs / s).toFixed(1)}`);
  console.log(
    `deliveries/s      ${(received / s).toFixed(1)}  (bad signatures ${badSignatures}, failed records in the last 500${callbacks ? ' of the last 50 callbacks' : ''}: ${failed}, run errors ${errors})`,
  );
  console.log(`append→delivery   p50 ${q(latencies, 0.5)} ms  p95 ${q(latencies, 0.95)} ms  p99 ${q(latencies, 0.99)} ms  max ${latencies.at(-1)} ms`);
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  receiver.close();
  agent.destroy();
  rmSync(dataDir, { recursive: true, force: true });
}
