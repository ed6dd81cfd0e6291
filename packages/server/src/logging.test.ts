import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { loadConfig } from './config.js';
import { Redactor } from '@weft/security';
import { createLogger, startHost, type RunningHost } from './host.js';

const KEY = 'log-canary-tenant-key-0123456789abcdef';
const CANARY = 'CANARY-openwop-CONFORMANCE-NEVER-SECRET';

const lines: string[] = [];
let host: RunningHost;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const logger = pino({ level: 'trace', redact: { paths: ['req.headers.authorization'], censor: '[REDACTED]' } }, sink);
  const config = loadConfig(
    {},
    {
      port: 0,
      store: 'memory',
      apiKeys: [{ tenant: 'logs', key: KEY }],
      generateDevKey: false,
      workflowsDirs: [new URL('../../../examples/workflows', import.meta.url).pathname],
      announce: false,
      logLevel: 'trace',
    },
  );
  host = await startHost(config, { logger });
});

afterAll(async () => {
  await host.close();
});

describe('logging', () => {
  it('invariant: no-secret-in-logs — keys, presented credentials and sensitive inputs never reach the log', async () => {
    const auth = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
    await fetch(`${host.url}/v1/runs/run_x`, { headers: { authorization: `Bearer ${CANARY}` } });
    await fetch(`${host.url}/v1/runs`, { method: 'POST', headers: auth, body: '{"broken' });
    const res = await fetch(`${host.url}/v1/runs`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ workflowId: 'weft-secret', inputs: { token: `${CANARY}-input` } }),
    });
    expect(res.status).toBe(201);
    const { runId } = (await res.json()) as { runId: string };
    const poll = await fetch(`${host.url}/v1/runs/${runId}/events/poll?timeout=5`, { headers: auth });
    expect(poll.status).toBe(200);
    const all = lines.join('');
    expect(all).not.toContain(KEY);
    expect(all).not.toContain(CANARY);
  });

  it('invariant: no-secret-in-logs — every line of the host logger passes the redactor: shapes and known values, message and fields', () => {
    const out: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        out.push(chunk.toString());
        cb();
      },
    });
    const redactor = new Redactor();
    const known = 'known-host-secret-value-42';
    redactor.addSecret(known);
    const logger = createLogger('info', sink, redactor);
    const shaped = ['sk-', 'ant-', CANARY].join('');
    logger.info({ err: `upstream said ${shaped}`, nested: { v: known } }, `failed with ${shaped} and ${known}`);
    const line = out.join('');
    expect(line).not.toContain(shaped);
    expect(line).not.toContain(known);
    expect(line).not.toContain(CANARY);
    const parsed = JSON.parse(line) as { msg: string; err: string; nested: { v: string } };
    expect(parsed).toMatchObject({ msg: 'failed with [REDACTED] and [REDACTED]', err: 'upstream said [REDACTED]', nested: { v: '[REDACTED]' } });
  });
});
