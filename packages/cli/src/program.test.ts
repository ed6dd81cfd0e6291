import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunEventDoc } from '@weft/contract';
import type { CliIo } from './cli-io.js';
import { runCli } from './program.js';

const KEY = 'sk-cli-test-0123456789abcdef';
const servers: Server[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

interface Seen {
  method: string;
  url: string;
  auth: string | undefined;
  body: string;
}

async function fakeHost(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, body });
      handler(req, res, body);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

const ev = (sequence: number, type: string, payload: unknown, nodeId?: string): RunEventDoc => ({
  eventId: `r1-${sequence}`,
  runId: 'r1',
  type,
  payload,
  timestamp: '2026-01-01T00:00:00.000Z',
  sequence,
  ...(nodeId ? { nodeId } : {}),
});

/** Runs the CLI with captured output and the given environment. */
async function cli(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: (t) => void (out += t), stderr: (t) => void (err += t), env, color: false };
  const code = await runCli(argv, io);
  return { code, out, err };
}

/** A host with one run `r1` that ends with `outcome`. */
async function hostWithRun(outcome: 'completed' | 'failed' | 'cancelled') {
  const terminal =
    outcome === 'completed'
      ? ev(3, 'run.completed', { durationMs: 5 })
      : outcome === 'failed'
        ? ev(3, 'run.failed', { error: { code: 'deterministic_fail', message: 'boom' } })
        : ev(3, 'run.cancelled', { reason: 'user' });
  return fakeHost((req, res) => {
    if (req.method === 'POST' && req.url === '/v1/runs') return json(res, 201, { runId: 'r1', status: 'pending', workflowId: 'wf', eventsUrl: '/v1/runs/r1/events', statusUrl: '/v1/runs/r1' });
    if (req.url?.startsWith('/v1/runs/r1/events')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const frames = [ev(0, 'run.started', { workflowId: 'wf' }), ev(1, 'node.started', { nodeId: 'a', typeId: 'core.noop' }, 'a'), ev(2, 'node.completed', { nodeId: 'a' }, 'a'), terminal];
      return void res.end(frames.map((e) => `id: ${e.sequence}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join(''));
    }
    if (req.url === '/v1/runs/r1') {
      const error = outcome === 'failed' ? { error: { code: 'deterministic_fail', message: 'boom' } } : {};
      return json(res, 200, { runId: 'r1', workflowId: 'wf', status: outcome, ...error });
    }
    json(res, 404, { error: 'not_found', message: 'Not found.' });
  });
}

describe('weft runs start --watch', () => {
  it('prints one line per event, the final status, and exits 0 when the run completes', async () => {
    const host = await hostWithRun('completed');
    const r = await cli(['runs', 'start', 'wf', '--input', 'n=1', '--input', 'name=Ada', '--watch', '--base-url', host.url, '--api-key', KEY]);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')).toEqual([
      'run r1 of wf',
      '   0  run.started       workflowId=wf',
      '   1  node.started      [a]  typeId=core.noop',
      '   2  node.completed    [a]',
      '   3  run.completed     durationMs=5',
      'run r1 completed',
      '',
    ]);
    expect(JSON.parse(host.seen[0]?.body ?? '')).toEqual({ workflowId: 'wf', inputs: { n: 1, name: 'Ada' } });
    expect(host.seen[0]?.auth).toBe(`Bearer ${KEY}`);
    expect(host.seen[1]?.url).toBe('/v1/runs/r1/events?streamMode=debug');
  });

  it('exits 2 when the run fails and 3 when it is cancelled', async () => {
    const failed = await hostWithRun('failed');
    const f = await cli(['runs', 'start', 'wf', '--watch'], { OPENWOP_BASE_URL: failed.url, OPENWOP_API_KEY: KEY });
    expect(f.code).toBe(2);
    expect(f.out).toContain('run r1 failed: deterministic_fail: boom');
    const cancelled = await hostWithRun('cancelled');
    const c = await cli(['runs', 'start', 'wf', '--watch'], { WEFT_BASE_URL: cancelled.url, WEFT_API_KEY: KEY });
    expect(c.code).toBe(3);
    expect(c.out).toContain('run r1 cancelled');
  });

  it('prints NDJSON events and the final snapshot with --json', async () => {
    const host = await hostWithRun('completed');
    const r = await cli(['--json', 'runs', 'start', 'wf', '--watch', '--base-url', host.url]);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as { type?: string; status?: string });
    expect(r.code).toBe(0);
    expect(lines.map((l) => l.type ?? l.status)).toEqual(['run.started', 'node.started', 'node.completed', 'run.completed', 'completed']);
  });
});

describe('weft error output', () => {
  it('prints error: <code>: <message> and exits 1, never printing the key', async () => {
    // Client-side guard (not a registered host invariant): the CLI never prints the key.
    const host = await fakeHost((_req, res) => json(res, 401, { error: 'unauthenticated', message: `The key ${KEY} is unknown.` }));
    const r = await cli(['runs', 'get', 'r1', '--base-url', host.url, '--api-key', KEY]);
    expect(r.code).toBe(1);
    expect(r.err).toBe('error: unauthenticated: The key [redacted] is unknown.\n');
    expect(r.out).toBe('');
    expect(r.err + r.out).not.toContain(KEY);
  });

  it('reports an unreachable host as connection_failed', async () => {
    const host = await fakeHost(() => undefined);
    const s = servers.pop();
    s?.closeAllConnections();
    await new Promise<void>((resolve) => s?.close(() => resolve()));
    const r = await cli(['runs', 'list', '--base-url', host.url], { OPENWOP_API_KEY: KEY });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: connection_failed: GET \/v1\/runs failed/);
    expect(r.err).not.toContain(KEY);
  });

  it('rejects bad flag values before calling the host', async () => {
    const host = await fakeHost((_req, res) => json(res, 200, {}));
    const r = await cli(['runs', 'start', 'wf', '--input', 'oops', '--base-url', host.url]);
    expect(r.code).toBe(1);
    expect(r.err).toBe('error: invalid_argument: --input expects key=value, got "oops"\n');
    expect(host.seen).toHaveLength(0);
  });

  it('leaves usage errors to commander with a non-zero status', async () => {
    const r = await cli(['runs', 'get']);
    expect(r.code).toBe(1);
    expect(r.err).toContain("missing required argument 'runId'");
  });
});

describe('weft runs and workflows', () => {
  it('lists runs with filters and shows the next cursor', async () => {
    const host = await fakeHost((_req, res) => json(res, 200, { runs: [{ runId: 'r1', workflowId: 'wf', status: 'completed', startedAt: '2026-01-01T00:00:00Z' }], nextCursor: 'abc' }));
    const r = await cli(['runs', 'list', '--status', 'completed', '--workflow', 'wf', '--limit', '5', '--base-url', host.url]);
    expect(r.code).toBe(0);
    expect(host.seen[0]?.url).toBe('/v1/runs?status=completed&workflowId=wf&limit=5');
    expect(r.out).toBe('RUN  STATUS     WORKFLOW  STARTED\nr1   completed  wf        2026-01-01T00:00:00Z\nmore: --cursor abc\n');
  });

  it('cancels one run, or several through bulk-cancel (exit 1 if any was refused)', async () => {
    const host = await fakeHost((req, res) =>
      req.url === '/v1/runs:bulk-cancel'
        ? json(res, 200, { results: [{ runId: 'a', ok: true, status: 'cancelled' }, { runId: 'b', ok: false, error: { code: 'run_terminal', message: 'Run already completed.' } }] })
        : json(res, 200, { runId: 'a', status: 'cancelling' }),
    );
    const one = await cli(['runs', 'cancel', 'a', '--reason', 'stop', '--base-url', host.url]);
    expect(one.out).toBe('run a cancelling\n');
    expect(JSON.parse(host.seen[0]?.body ?? '')).toEqual({ reason: 'stop' });
    const many = await cli(['runs', 'cancel', 'a', 'b', '--base-url', host.url]);
    expect(many.code).toBe(1);
    expect(many.out).toBe('run a cancelled\nrun b not cancelled: run_terminal: Run already completed.\n');
  });

  it('dumps the event log by polling until the terminal page', async () => {
    const host = await fakeHost((_req, res) =>
      json(res, 200, { runId: 'r1', events: [ev(0, 'run.started', { workflowId: 'wf' }), ev(1, 'run.completed', {})], lastEventSeq: 1, runStatus: 'completed', isTerminal: true, isComplete: true }),
    );
    const r = await cli(['runs', 'events', 'r1', '--base-url', host.url]);
    expect(r.code).toBe(0);
    expect(r.out).toBe('   0  run.started       workflowId=wf\n   1  run.completed\n');
    expect(host.seen.map((s) => s.url)).toEqual(['/v1/runs/r1/events/poll?timeout=1']);
  });

  it('registers a workflow from a file and reports a missing file', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'weft-cli-'));
    try {
      const file = join(dir, 'wf.json');
      await writeFile(file, JSON.stringify({ id: 'wf', name: 'Wf' }));
      const host = await fakeHost((_req, res) => json(res, 201, { id: 'wf', hash: '0123456789abcdef0123', created: true, runnable: true }));
      const ok = await cli(['workflows', 'register', file, '--base-url', host.url]);
      expect(ok.out).toBe('registered wf (hash 0123456789ab)\n');
      expect(JSON.parse(host.seen[0]?.body ?? '')).toEqual({ id: 'wf', name: 'Wf' });
      const missing = await cli(['workflows', 'register', join(dir, 'nope.json'), '--base-url', host.url]);
      expect(missing.code).toBe(1);
      expect(missing.err).toMatch(/^error: file_unreadable: cannot read .*nope\.json \(ENOENT\)\n$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
