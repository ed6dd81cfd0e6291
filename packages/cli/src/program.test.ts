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
async function cli(argv: string[], env: NodeJS.ProcessEnv = {}, extra: Partial<CliIo> = {}): Promise<{ code: number; out: string; err: string }> {
  const started = startCli(argv, env, extra);
  const code = await started.done;
  return { code, out: started.out(), err: started.err() };
}

/** Starts the CLI without waiting for it; the output so far can be read while it runs. */
function startCli(argv: string[], env: NodeJS.ProcessEnv = {}, extra: Partial<CliIo> = {}): { done: Promise<number>; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: (t) => void (out += t), stderr: (t) => void (err += t), env, color: false, ...extra };
  return { done: runCli(argv, io), out: () => out, err: () => err };
}

/** Resolves once `read()` contains `text` (fails after 5 s). */
async function waitFor(read: () => string, text: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!read().includes(text)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${JSON.stringify(text)} in:\n${read()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A host with one run `r1` that ends with `outcome`. */
async function hostWithRun(outcome: 'completed' | 'failed' | 'cancelled') {
  const terminal =
    outcome === 'completed'
      ? ev(3, 'run.completed', { durationMs: 5 })
      : outcome === 'failed'
        ? ev(3, 'run.failed', { error: { code: 'deterministic_fail', message: 'boom' } })
        : ev(3, 'run.cancelled', { reason: 'user' });
  return fakeHost((req, res, body) => {
    if (req.method === 'POST' && req.url === '/v1/runs')
      return json(res, 201, { runId: 'r1', status: 'pending', workflowId: 'wf', eventsUrl: '/v1/runs/r1/events', statusUrl: '/v1/runs/r1' });
    if (req.method === 'POST' && req.url === '/v1/runs/src:fork') {
      const b = JSON.parse(body) as { mode: string; fromSeq?: number };
      return json(res, 201, { runId: 'r1', sourceRunId: 'src', fromSeq: b.fromSeq ?? 0, mode: b.mode, status: 'pending', eventsUrl: '/v1/runs/r1/events' });
    }
    if (req.url?.startsWith('/v1/runs/r1/events')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const frames = [
        ev(0, 'run.started', { workflowId: 'wf' }),
        ev(1, 'node.started', { nodeId: 'a', typeId: 'core.noop' }, 'a'),
        ev(2, 'node.completed', { nodeId: 'a' }, 'a'),
        terminal,
      ];
      return void res.end(frames.map((e) => `id: ${e.sequence}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join(''));
    }
    if (req.url === '/v1/runs/r1') {
      const error = outcome === 'failed' ? { error: { code: 'deterministic_fail', message: 'boom' } } : {};
      return json(res, 200, { runId: 'r1', workflowId: 'wf', status: outcome, ...error });
    }
    json(res, 404, { error: 'not_found', message: 'Not found.' });
  });
}

describe('weft runs start --callback-url', () => {
  it('sends the callbackUrl and prints the callback secret once', async () => {
    const secret = 'c'.repeat(64);
    const host = await fakeHost((_req, res) =>
      json(res, 201, {
        runId: 'r1',
        status: 'pending',
        workflowId: 'wf',
        eventsUrl: '/v1/runs/r1/events',
        statusUrl: '/v1/runs/r1',
        callbackId: 'cb_1',
        callbackSecret: secret,
        callbackSecretFingerprint: '0a1b2c3d',
      }),
    );
    const r = await cli(['runs', 'start', 'wf', '--callback-url', 'https://hooks.example.com/cb'], { OPENWOP_BASE_URL: host.url, OPENWOP_API_KEY: KEY });
    expect(r.code).toBe(0);
    expect(JSON.parse(host.seen[0]?.body as string)).toEqual({ workflowId: 'wf', callbackUrl: 'https://hooks.example.com/cb' });
    expect(r.out).toContain(`callback cb_1 secret (shown once; later reads show 0a1b2c3d…): ${secret}`);
    expect(r.out.split(secret)).toHaveLength(2);
  });
});

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
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type?: string; status?: string });
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
    const host = await fakeHost((_req, res) =>
      json(res, 200, { runs: [{ runId: 'r1', workflowId: 'wf', status: 'completed', startedAt: '2026-01-01T00:00:00Z' }], nextCursor: 'abc' }),
    );
    const r = await cli(['runs', 'list', '--status', 'completed', '--workflow', 'wf', '--limit', '5', '--base-url', host.url]);
    expect(r.code).toBe(0);
    expect(host.seen[0]?.url).toBe('/v1/runs?status=completed&workflowId=wf&limit=5');
    expect(r.out).toBe('RUN  STATUS     WORKFLOW  STARTED\nr1   completed  wf        2026-01-01T00:00:00Z\nmore: --cursor abc\n');
  });

  it('cancels one run, or several through bulk-cancel (exit 1 if any was refused)', async () => {
    const host = await fakeHost((req, res) =>
      req.url === '/v1/runs:bulk-cancel'
        ? json(res, 200, {
            results: [
              { runId: 'a', ok: true, status: 'cancelled' },
              { runId: 'b', ok: false, error: { code: 'run_terminal', message: 'Run already completed.' } },
            ],
          })
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
      json(res, 200, {
        runId: 'r1',
        events: [ev(0, 'run.started', { workflowId: 'wf' }), ev(1, 'run.completed', {})],
        lastEventSeq: 1,
        runStatus: 'completed',
        isTerminal: true,
        isComplete: true,
      }),
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

const sse = (events: RunEventDoc[]): string => events.map((e) => `id: ${e.sequence}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join('');
const NOW = Date.parse('2026-01-01T01:00:00.000Z');
const approvalData = { title: 'Ship the release?', actions: ['accept', 'reject'], requiredApprovals: 1 };
const clarificationData = {
  questions: [
    { id: 'q1', question: 'Which colour?' },
    { id: 'q2', question: 'How many?' },
  ],
};

describe('weft runs start --watch with an interrupt', () => {
  it('prints the interrupt, keeps watching while the run waits, and ends after it is approved', async () => {
    let stream: ServerResponse | undefined;
    let approved = false;
    const before = [
      ev(0, 'run.started', { workflowId: 'wf' }),
      ev(1, 'node.started', { nodeId: 'gate', typeId: 'core.approval' }, 'gate'),
      ev(2, 'node.suspended', { nodeId: 'gate', interruptId: 'int_1', kind: 'approval', key: 'gate' }, 'gate'),
      ev(3, 'interrupt.requested', { kind: 'approval', key: 'gate', data: approvalData }, 'gate'),
    ];
    const after = [
      ev(4, 'interrupt.resolved', { nodeId: 'gate', interruptId: 'int_1', kind: 'approval', outcome: 'accepted' }, 'gate'),
      ev(5, 'run.completed', { durationMs: 9 }),
    ];
    const host = await fakeHost((req, res) => {
      if (req.method === 'POST' && req.url === '/v1/runs')
        return json(res, 201, { runId: 'r1', status: 'pending', workflowId: 'wf', eventsUrl: '/v1/runs/r1/events', statusUrl: '/v1/runs/r1' });
      if (req.url?.startsWith('/v1/runs/r1/events')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        if (approved) return void res.end(sse([...before, ...after]));
        stream = res;
        return void res.write(sse(before));
      }
      if (req.method === 'POST' && req.url === '/v1/runs/r1/interrupts/gate') {
        approved = true;
        json(res, 200, { runId: 'r1', nodeId: 'gate', interruptId: 'int_1', status: 'running', interrupt: { kind: 'approval', outcome: 'accepted' } });
        return void stream?.end(sse(after));
      }
      if (req.url === '/v1/runs/r1') return json(res, 200, { runId: 'r1', workflowId: 'wf', status: approved ? 'completed' : 'waiting-approval' });
      json(res, 404, { error: 'not_found', message: 'Not found.' });
    });
    const watch = startCli(['runs', 'start', 'wf', '--watch', '--base-url', host.url]);
    await waitFor(watch.out, 'still watching');
    // The run waits: the watch has not ended.
    expect(await Promise.race([watch.done, new Promise((resolve) => setTimeout(() => resolve('waiting'), 50))])).toBe('waiting');
    const approve = await cli(['interrupts', 'approve', 'r1', 'gate', '--comment', 'lgtm', '--base-url', host.url]);
    expect(approve).toEqual({ code: 0, out: 'run r1 node gate: accepted; run running\n', err: '' });
    expect(await watch.done).toBe(0);
    expect(watch.out().split('\n')).toEqual([
      'run r1 of wf',
      '   0  run.started       workflowId=wf',
      '   1  node.started      [gate]  typeId=core.approval',
      '   2  node.suspended    [gate]  interruptId=int_1 kind=approval key=gate',
      '   3  interrupt.requested  [gate]  kind=approval key=gate data={"title":"Ship the release?","actions":["accept","reject"],"requiredApp…',
      '      approval needed at node gate (run r1): Ship the release?',
      '        actions: accept, reject',
      '        answer with:',
      '          weft interrupts approve r1 gate [--comment <text>]',
      '          weft interrupts reject r1 gate [--comment <text>]',
      '        still watching: the run goes on once it is answered',
      '   4  interrupt.resolved  [gate]  interruptId=int_1 kind=approval outcome=accepted',
      '   5  run.completed     durationMs=9',
      'run r1 completed',
      '',
    ]);
    const post = host.seen.find((s) => s.url === '/v1/runs/r1/interrupts/gate');
    expect(JSON.parse(post?.body ?? '')).toEqual({ resumeValue: { action: 'accept', comment: 'lgtm' } });
  });

  it('prints no prompt blocks with --json', async () => {
    const host = await fakeHost((req, res) => {
      if (req.method === 'POST') return json(res, 201, { runId: 'r1', status: 'pending', workflowId: 'wf', eventsUrl: '', statusUrl: '' });
      if (req.url?.startsWith('/v1/runs/r1/events')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        return void res.end(sse([ev(0, 'interrupt.requested', { kind: 'approval', key: 'g', data: approvalData }, 'g'), ev(1, 'run.cancelled', {})]));
      }
      json(res, 200, { runId: 'r1', workflowId: 'wf', status: 'cancelled' });
    });
    const r = await cli(['--json', 'runs', 'start', 'wf', '--watch', '--base-url', host.url]);
    expect(r.code).toBe(3);
    expect(
      r.out
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { type?: string; status?: string }).type ?? 'final'),
    ).toEqual(['interrupt.requested', 'run.cancelled', 'final']);
  });
});

describe('weft runs events --follow with an interrupt', () => {
  it('prints the questions of a clarification and how to answer them', async () => {
    const host = await fakeHost((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(
        sse([
          ev(4, 'interrupt.requested', { kind: 'clarification', key: 'ask', data: clarificationData, timeoutMs: 120_000 }, 'ask'),
          ev(5, 'clarification.requested', { nodeId: 'ask', interruptId: 'int_2', questions: clarificationData.questions }, 'ask'),
          ev(6, 'run.completed', {}),
        ]),
      );
    });
    const r = await cli(['runs', 'events', 'r1', '--follow', '--after', '3', '--base-url', host.url]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      [
        '      clarification needed at node ask (run r1)',
        '        q1: Which colour?',
        '        q2: How many?',
        '        times out after 2m',
        '        answer with:',
        "          weft interrupts answer r1 ask --answer 'q1=<answer>' --answer 'q2=<answer>'",
        '        still watching: the run goes on once it is answered',
        '   5  clarification.requested',
      ].join('\n'),
    );
    expect(host.seen[0]?.url).toBe('/v1/runs/r1/events?streamMode=debug');
  });

  it('prompts a node.suspended that no interrupt.requested follows', async () => {
    const host = await fakeHost((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sse([ev(2, 'node.suspended', { nodeId: 'ask', interruptId: 'int_2', kind: 'clarification', key: 'ask' }, 'ask')]));
      setTimeout(() => res.end(sse([ev(3, 'run.cancelled', { reason: 'user' })])), 600);
    });
    const r = await cli(['runs', 'events', 'r1', '--follow', '--stream-mode', 'updates', '--base-url', host.url]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      [
        '   2  node.suspended    [ask]  interruptId=int_2 kind=clarification key=ask',
        '      clarification needed at node ask (run r1)',
        '        answer with:',
        '          weft interrupts show r1 ask',
        '          weft interrupts answer r1 ask --answer <questionId>=<answer>',
        '        still watching: the run goes on once it is answered',
        '   3  run.cancelled     reason=user',
        '',
      ].join('\n'),
    );
  });
});

describe('weft interrupts', () => {
  const view = (over: Record<string, unknown> = {}) => ({
    runId: 'r1',
    nodeId: 'gate',
    interruptId: 'int_1',
    kind: 'approval',
    key: 'gate',
    data: approvalData,
    status: 'pending',
    requestedAt: '2026-01-01T00:55:00.000Z',
    ...over,
  });

  it('lists the pending interrupts of the tenant, or every interrupt of one run', async () => {
    const host = await fakeHost((req, res) =>
      req.url === '/v1/host/weft/interrupts'
        ? json(res, 200, {
            interrupts: [
              { ...view(), workflowId: 'wf' },
              {
                ...view({ runId: 'r2', nodeId: 'ask', kind: 'clarification', data: clarificationData, requestedAt: '2026-01-01T00:59:58.000Z' }),
                workflowId: 'wf',
              },
            ],
          })
        : json(res, 200, { interrupts: [view({ status: 'resolved', outcome: 'accepted' })] }),
    );
    const now = (): number => NOW;
    const pending = await cli(['interrupts', 'list', '--base-url', host.url], {}, { now });
    expect(pending.out).toBe(
      [
        'RUN  NODE  KIND           AGE  SUMMARY',
        'r1   gate  approval       5m   Ship the release?',
        'r2   ask   clarification  2s   Which colour? (+1 more)',
        '',
      ].join('\n'),
    );
    const run = await cli(['interrupts', 'list', '--run', 'r1', '--base-url', host.url], {}, { now });
    expect(run.out).toBe(
      ['RUN  NODE  KIND      STATUS               AGE  SUMMARY', 'r1   gate  approval  resolved (accepted)  5m   Ship the release?', ''].join('\n'),
    );
    const raw = await cli(['--json', 'interrupts', 'list', '--run', 'r1', '--base-url', host.url]);
    expect(JSON.parse(raw.out)).toEqual({ interrupts: [view({ status: 'resolved', outcome: 'accepted' })] });
    expect(host.seen.map((s) => s.url)).toEqual(['/v1/host/weft/interrupts', '/v1/runs/r1/interrupts', '/v1/runs/r1/interrupts']);
  });

  it('shows what a run waits on with the resume schema, the commands and the callback token', async () => {
    const snapshot = {
      runId: 'r1',
      workflowId: 'wf',
      status: 'waiting-input',
      interrupt: {
        kind: 'custom',
        nodeId: 'c',
        interruptId: 'int_3',
        key: 'c',
        payload: { hint: 'pick' },
        requestedAt: '2026-01-01T00:59:00.000Z',
        interruptToken: 'tok-abc',
        tokenExpiresAt: '2026-01-02T00:00:00.000Z',
      },
    };
    const custom = view({
      nodeId: 'c',
      interruptId: 'int_3',
      kind: 'custom',
      key: 'c',
      data: { hint: 'pick' },
      requestedAt: '2026-01-01T00:59:00.000Z',
      resumeSchema: { type: 'number' },
    });
    const host = await fakeHost((req, res) =>
      req.url === '/v1/runs/r1' ? json(res, 200, snapshot) : json(res, 200, { interrupts: [view({ status: 'resolved', outcome: 'accepted' }), custom] }),
    );
    const r = await cli(['interrupts', 'show', 'r1', '--base-url', `${host.url}/`], {}, { now: () => NOW });
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      [
        'interrupt     int_3',
        'run           r1',
        'node          c',
        'kind          custom',
        'key           c',
        'status        pending',
        'requested     2026-01-01T00:59:00.000Z (1m ago)',
        'data          {"hint":"pick"}',
        'resume value  any JSON value matching the resume schema',
        'resume schema',
        '  {',
        '    "type": "number"',
        '  }',
        'answer with',
        "  weft interrupts resolve r1 c --value '<json>'",
        'callback token (valid until 2026-01-02T00:00:00.000Z)',
        '  tok-abc',
        '  anyone holding it can answer without an API key:',
        `  curl -X POST ${host.url}/v1/interrupts/tok-abc -H 'content-type: application/json' -d '{"resumeValue": …}'`,
        '',
      ].join('\n'),
    );
    const one = await cli(['--json', 'interrupts', 'show', 'r1', 'gate', '--base-url', host.url]);
    expect(JSON.parse(one.out)).toEqual(view({ status: 'resolved', outcome: 'accepted' }));
    const all = await cli(['--json', 'interrupts', 'show', 'r1', '--base-url', host.url]);
    expect(JSON.parse(all.out)).toEqual({ interrupts: [{ ...custom, interruptToken: 'tok-abc', tokenExpiresAt: '2026-01-02T00:00:00.000Z' }] });
    const missing = await cli(['interrupts', 'show', 'r1', 'nope', '--base-url', host.url]);
    expect(missing).toMatchObject({ code: 1, out: '', err: 'error: not_found: run r1 has no interrupt at node nope\n' });
  });

  it('says when a run waits on nothing', async () => {
    const host = await fakeHost((req, res) =>
      req.url === '/v1/runs/r1'
        ? json(res, 200, { runId: 'r1', workflowId: 'wf', status: 'completed' })
        : json(res, 200, { interrupts: [view({ status: 'resolved', outcome: 'accepted' })] }),
    );
    const r = await cli(['interrupts', 'show', 'r1', '--base-url', host.url]);
    expect(r.out).toBe('run r1 waits on nothing (status completed); settled interrupts: weft interrupts list --run r1\n');
  });

  it('approves, rejects, answers and resolves with the matching resume values', async () => {
    const host = await fakeHost((req, res) => {
      const nodeId = decodeURIComponent(req.url?.split('/').at(-1) ?? '');
      if (nodeId === 'quorum')
        return json(res, 200, {
          runId: 'r1',
          nodeId,
          interruptId: 'i',
          status: 'waiting-approval',
          interrupt: { kind: 'approval', outcome: 'pending', votes: { granted: 1, rejected: 0, required: 2 } },
        });
      const outcome = req.url?.endsWith('/no') ? 'rejected' : 'resolved';
      json(res, 200, { runId: 'r1', nodeId, interruptId: 'i', status: 'running', interrupt: { kind: 'x', outcome } });
    });
    const base = ['--base-url', host.url];
    const approve = await cli(['interrupts', 'approve', 'r1', 'quorum', '--idempotency-key', 'k1', ...base]);
    const reject = await cli(['interrupts', 'reject', 'r1', 'no', '--comment', 'not yet', ...base]);
    const answer = await cli(['interrupts', 'answer', 'r1', 'ask', '--answer', 'q1=blue', '--answer', 'q2=3', ...base]);
    const typed = await cli(['interrupts', 'answer', 'r1', 'ask', '--answers-json', '{"q2":3}', '--answer', 'q1=red', ...base]);
    const resolve = await cli(['interrupts', 'resolve', 'r1', 'my node', '--value', '{"orderId":"42"}', ...base]);
    const raw = await cli(['--json', 'interrupts', 'resolve', 'r1', 'c', '--value', '7', ...base]);
    expect([approve, reject, answer, typed, resolve].map((r) => r.out)).toEqual([
      'run r1 node quorum: vote recorded, 1 of 2 approvals; run waiting-approval\n',
      'run r1 node no: rejected; run running\n',
      'run r1 node ask: resolved; run running\n',
      'run r1 node ask: resolved; run running\n',
      'run r1 node my node: resolved; run running\n',
    ]);
    expect(JSON.parse(raw.out)).toEqual({ runId: 'r1', nodeId: 'c', interruptId: 'i', status: 'running', interrupt: { kind: 'x', outcome: 'resolved' } });
    expect(host.seen.map((s) => `${s.method} ${s.url} ${s.body}`)).toEqual([
      'POST /v1/runs/r1/interrupts/quorum {"resumeValue":{"action":"accept"}}',
      'POST /v1/runs/r1/interrupts/no {"resumeValue":{"action":"reject","comment":"not yet"}}',
      'POST /v1/runs/r1/interrupts/ask {"resumeValue":{"answers":{"q1":"blue","q2":"3"}}}',
      'POST /v1/runs/r1/interrupts/ask {"resumeValue":{"answers":{"q2":3,"q1":"red"}}}',
      'POST /v1/runs/r1/interrupts/my%20node {"resumeValue":{"orderId":"42"}}',
      'POST /v1/runs/r1/interrupts/c {"resumeValue":7}',
    ]);
  });

  it('prints host refusals as error lines and checks answers before calling the host', async () => {
    const host = await fakeHost((_req, res) =>
      json(res, 409, { error: 'interrupt_already_resolved', message: 'The interrupt was already resolved.', details: { interruptId: 'int_1' } }),
    );
    const base = ['--base-url', host.url, '--api-key', KEY];
    const refused = await cli(['interrupts', 'approve', 'r1', 'gate', ...base]);
    expect(refused).toEqual({ code: 1, out: '', err: 'error: interrupt_already_resolved: The interrupt was already resolved.\n' });
    const none = await cli(['interrupts', 'answer', 'r1', 'ask', ...base]);
    expect(none.err).toBe('error: invalid_argument: give at least one --answer questionId=answer (or --answers-json)\n');
    const badJson = await cli(['interrupts', 'resolve', 'r1', 'c', '--value', '{oops', ...base]);
    expect(badJson.err).toMatch(/^error: invalid_argument: --value is not valid JSON/);
    const noValue = await cli(['interrupts', 'resolve', 'r1', 'c', ...base]);
    expect(noValue.code).toBe(1);
    expect(noValue.err).toContain("required option '--value <json>' not specified");
    expect(host.seen).toHaveLength(1);
  });
});

describe('weft runs fork', () => {
  it('forks in branch mode from a sequence with an overlay and watches the fork to its end', async () => {
    const host = await hostWithRun('completed');
    const r = await cli([
      'runs',
      'fork',
      'src',
      '--from-seq',
      '2',
      '--mode',
      'branch',
      '--tag',
      'b',
      '--config',
      'recursionLimit=5',
      '--watch',
      '--base-url',
      host.url,
    ]);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe('run r1 (branch of src from seq 2)');
    expect(r.out).toContain('run r1 completed');
    expect(host.seen[0]?.url).toBe('/v1/runs/src:fork');
    expect(JSON.parse(host.seen[0]?.body ?? '')).toEqual({
      mode: 'branch',
      fromSeq: 2,
      runOptionsOverlay: { configurable: { recursionLimit: 5 }, tags: ['b'] },
    });
  });

  it('defaults to a replay from 0, and refuses what the host would refuse before sending', async () => {
    const host = await hostWithRun('completed');
    const r = await cli(['runs', 'fork', 'src', '--base-url', host.url]);
    expect(r.out).toBe('run r1 (replay of src from seq 0) pending\n');
    expect(JSON.parse(host.seen[0]?.body ?? '')).toEqual({ mode: 'replay' });
    const noSeq = await cli(['runs', 'fork', 'src', '--mode', 'branch', '--base-url', host.url]);
    expect(noSeq.err).toBe('error: invalid_argument: --from-seq is required with --mode branch\n');
    const overlay = await cli(['runs', 'fork', 'src', '--tag', 'x', '--base-url', host.url]);
    expect(overlay.err).toMatch(/^error: invalid_argument: --config and --tag overlay a branch fork only/);
    const badMode = await cli(['runs', 'fork', 'src', '--mode', 'rewind', '--base-url', host.url]);
    expect(badMode.err).toBe('error: invalid_argument: --mode must be replay or branch\n');
    const badSeq = await cli(['runs', 'fork', 'src', '--from-seq', '-1', '--base-url', host.url]);
    expect(badSeq.code).toBe(1);
    expect(host.seen).toHaveLength(1);
  });
});

describe('weft runs pause and resume', () => {
  it('pauses (optionally immediately) and resumes a run', async () => {
    const host = await fakeHost((req, res) =>
      req.url?.endsWith(':pause')
        ? json(res, 202, { runId: 'r1', status: 'paused', pausedAt: '2026-01-01T00:00:01.000Z' })
        : json(res, 202, { runId: 'r1', status: 'running', resumedAt: '2026-01-01T00:00:02.000Z' }),
    );
    const pause = await cli(['runs', 'pause', 'r1', '--reason', 'deploy', '--immediate', '--base-url', host.url]);
    const drain = await cli(['runs', 'pause', 'r1', '--base-url', host.url]);
    const resume = await cli(['runs', 'resume', 'r1', '--reason', 'done', '--base-url', host.url]);
    const raw = await cli(['--json', 'runs', 'resume', 'r1', '--base-url', host.url]);
    expect([pause.out, drain.out, resume.out]).toEqual([
      'run r1 paused at 2026-01-01T00:00:01.000Z\n',
      'run r1 paused at 2026-01-01T00:00:01.000Z\n',
      'run r1 running (resumed at 2026-01-01T00:00:02.000Z)\n',
    ]);
    expect(JSON.parse(raw.out)).toEqual({ runId: 'r1', status: 'running', resumedAt: '2026-01-01T00:00:02.000Z' });
    expect(host.seen.map((s) => `${s.method} ${s.url} ${s.body}`)).toEqual([
      'POST /v1/runs/r1:pause {"reason":"deploy","drainPolicy":"immediate"}',
      'POST /v1/runs/r1:pause {}',
      'POST /v1/runs/r1:resume {"reason":"done"}',
      'POST /v1/runs/r1:resume {}',
    ]);
  });

  it('reports run_state_conflict with the run status', async () => {
    const host = await fakeHost((_req, res) =>
      json(res, 409, { error: 'run_state_conflict', message: 'The run is not paused.', details: { runStatus: 'running' } }),
    );
    const r = await cli(['runs', 'resume', 'r1', '--base-url', host.url]);
    expect(r).toEqual({ code: 1, out: '', err: 'error: run_state_conflict: The run is not paused. (run status: running)\n' });
  });
});

describe('weft secrets', () => {
  const VALUE = ['sk-', 'cli', 'VaultValue0123456789abcdef'].join('');
  const meta = (version: number) => ({
    secretId: 'openai',
    scope: 'tenant',
    version,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  });

  it('set reads the value from stdin, rotate from an env variable; nothing printed carries it', async () => {
    const host = await fakeHost((req, res) => {
      if (req.method === 'GET') return json(res, 200, { secrets: [meta(2)] });
      if (req.method === 'DELETE') {
        res.writeHead(204);
        return res.end();
      }
      json(res, req.url?.endsWith(':rotate') ? 200 : 201, meta(req.url?.endsWith(':rotate') ? 2 : 1));
    });
    const env = { OPENWOP_BASE_URL: host.url, OPENWOP_API_KEY: KEY, MY_KEY: `${VALUE}-2` };
    const set = await cli(['secrets', 'set', 'openai', '--description', 'prod'], env, { readStdin: async () => `${VALUE}\n` });
    expect(set).toMatchObject({ code: 0, out: 'stored openai (version 1)\n' });
    const rot = await cli(['secrets', 'rotate', 'openai', '--from-env', 'MY_KEY', '--if-match', '"e1"'], env);
    expect(rot).toMatchObject({ code: 0, out: 'rotated openai (version 2)\n' });
    const list = await cli(['secrets', 'list'], env);
    expect(list.out).toContain('openai\tv2');
    expect((await cli(['secrets', 'rm', 'openai'], env)).out).toBe('deleted openai\n');
    expect(JSON.parse(host.seen[0]?.body as string)).toEqual({ secretId: 'openai', value: VALUE, description: 'prod' });
    expect(JSON.parse(host.seen[1]?.body as string)).toEqual({ value: `${VALUE}-2` });
    for (const r of [set, rot, list]) expect(r.out + r.err).not.toContain(VALUE);
  });

  it('an error answer that echoes the value is printed redacted, and an empty value is refused locally', async () => {
    const host = await fakeHost((_req, res) => json(res, 409, { error: 'secret_already_exists', message: `exists: ${VALUE}` }));
    const env = { OPENWOP_BASE_URL: host.url, OPENWOP_API_KEY: KEY };
    const r = await cli(['secrets', 'set', 'openai'], env, { readStdin: async () => VALUE });
    expect(r.code).toBe(1);
    expect(r.err).toContain('secret_already_exists');
    expect(r.err).not.toContain(VALUE);
    const empty = await cli(['secrets', 'set', 'openai'], env, { readStdin: async () => '\n' });
    expect(empty.code).toBe(1);
    expect(host.seen).toHaveLength(1);
  });
});

describe('weft webhooks', () => {
  const SECRET = 'e'.repeat(64);
  const hook = {
    webhookId: 'wh_1',
    tenantId: 'acme',
    url: 'https://hooks.example.com/x',
    events: ['run.completed'],
    tags: [],
    secretFingerprint: '0a1b2c3d',
    signatureAlgorithm: 'v1',
    delivery: 'best-effort',
    state: 'active',
    consecutiveFailures: 0,
    createdAt: '2026-01-01T00:00:00.000Z',
  };

  it('add prints the secret once; list shows the fingerprint only; remove and deliveries call their routes', async () => {
    const host = await fakeHost((req, res) => {
      if (req.method === 'POST') return json(res, 201, { ...hook, secret: SECRET });
      if (req.method === 'DELETE') {
        res.writeHead(204);
        return res.end();
      }
      if (req.url?.endsWith('/deliveries?limit=5'))
        return json(res, 200, {
          deliveries: [
            {
              deliveryId: 'run_1.3',
              webhookId: 'wh_1',
              runId: 'run_1',
              sequence: 3,
              eventType: 'run.completed',
              status: 'failed',
              attempts: 1,
              responseStatus: 500,
              error: 'status_500',
              createdAt: hook.createdAt,
              updatedAt: hook.createdAt,
            },
          ],
        });
      json(res, 200, { webhooks: [hook] });
    });
    const env = { OPENWOP_BASE_URL: host.url, OPENWOP_API_KEY: KEY };
    const add = await cli(['webhooks', 'add', hook.url, '--events', 'run.completed, run.failed', '--tags', 'blue'], env);
    expect(add.code).toBe(0);
    expect(add.out).toContain(`secret (shown once; later reads show 0a1b2c3d…): ${SECRET}`);
    expect(JSON.parse(host.seen[0]?.body as string)).toEqual({ url: hook.url, events: ['run.completed', 'run.failed'], tags: ['blue'] });
    const list = await cli(['webhooks', 'list'], env);
    expect(list.out).toBe('wh_1\tactive\tbest-effort\thttps://hooks.example.com/x\trun.completed\tsecret 0a1b2c3d…\n');
    expect(list.out).not.toContain(SECRET);
    const d = await cli(['webhooks', 'deliveries', 'wh_1', '--limit', '5'], env);
    expect(d.out).toContain('run_1.3\tfailed\trun.completed\tattempts=1\tHTTP 500\tstatus_500');
    expect((await cli(['webhooks', 'remove', 'wh_1'], env)).out).toBe('removed wh_1\n');
    expect(host.seen.map((s) => s.method)).toEqual(['POST', 'GET', 'GET', 'DELETE']);
  });

  it('pause and resume call their verbs and print the state; add --durable asks for durable delivery', async () => {
    const host = await fakeHost((req, res) => {
      if (req.url?.endsWith(':pause')) return json(res, 200, { ...hook, state: 'paused' });
      if (req.url?.endsWith(':resume')) return json(res, 200, hook);
      return json(res, 201, { ...hook, delivery: 'durable', secret: SECRET });
    });
    const env = { OPENWOP_BASE_URL: host.url, OPENWOP_API_KEY: KEY };
    expect((await cli(['webhooks', 'pause', 'wh_1'], env)).out).toMatch(/^wh_1\tpaused\tbest-effort\t/);
    expect((await cli(['webhooks', 'resume', 'wh_1'], env)).out).toMatch(/^wh_1\tactive\t/);
    expect((await cli(['webhooks', 'add', hook.url, '--events', 'run.completed', '--durable'], env)).code).toBe(0);
    expect(host.seen.map((s) => `${s.method} ${s.url}`)).toEqual(['POST /v1/webhooks/wh_1:pause', 'POST /v1/webhooks/wh_1:resume', 'POST /v1/webhooks']);
    expect(JSON.parse(host.seen[2]?.body as string)).toEqual({ url: hook.url, events: ['run.completed'], delivery: 'durable' });
  });

  it('listen verifies deliveries with the secret from an env variable: a good one is 204 and printed, a forged one 401', async () => {
    const { createHmac } = await import('node:crypto');
    const started = startCli(['webhooks', 'listen', '--port', '0', '--from-env', 'HOOK_SECRET', '--count', '1'], { HOOK_SECRET: SECRET });
    await waitFor(started.err, 'listening on ');
    const url = /listening on (\S+)/.exec(started.err())?.[1] as string;
    const body = JSON.stringify({ runId: 'run_9', workspaceId: 'acme', event: { type: 'run.completed', runId: 'run_9', sequence: 4 } });
    const ts = String(Math.floor(Date.now() / 1000));
    const headers = (sig: string) => ({
      'content-type': 'application/json',
      'x-openwop-timestamp': ts,
      'x-openwop-signature': sig,
      'x-openwop-webhook-id': 'wh_1',
    });
    const forged = await fetch(url, { method: 'POST', body, headers: headers(`sha256=${'0'.repeat(64)}`) });
    expect(forged.status).toBe(401);
    const good = await fetch(url, { method: 'POST', body, headers: headers(`sha256=${createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex')}`) });
    expect(good.status).toBe(204);
    expect(await started.done).toBe(0);
    expect(started.out()).toBe('rejected\tbad_signature\nok\trun.completed\trun=run_9\tseq=4\twebhook=wh_1\n');
  });
});
