import { describe, expect, it } from 'vitest';
import type { RunEventDoc } from '@weft/contract';
import { call, lacks, snapshot, startRun, target, TERMINAL, waitForTerminal } from '../harness.js';

const types = (evs: RunEventDoc[]): string[] => evs.map((e) => e.type);

describe.skipIf(
  await lacks('the run lifecycle scenarios', {
    fixtures: [
      'conformance-cap-breach',
      'conformance-configurable-schema',
      'conformance-failure',
      'conformance-idempotent',
      'conformance-identity',
      'conformance-multi-node',
      'conformance-noop',
      'conformance-run-duration-breach',
    ],
  }),
)('core: runs lifecycle', () => {
  it('creates a run with 201 at once and completes conformance-noop', async () => {
    const r = await call('POST', '/v1/runs', { body: { workflowId: 'conformance-noop' } });
    expect(r.status).toBe(201);
    const body = r.body as { runId: string; status: string; eventsUrl: string };
    expect(body.runId).toBeTruthy();
    expect(['pending', 'running']).toContain(body.status);
    expect(body.eventsUrl).toContain(body.runId);
    const evs = await waitForTerminal(body.runId);
    expect(types(evs)).toEqual(['run.started', 'node.started', 'node.completed', 'run.completed']);
    const snap = await snapshot(body.runId);
    expect(snap).toMatchObject({ runId: body.runId, workflowId: 'conformance-noop', status: 'completed' });
    expect(snap.startedAt).toBeTruthy();
    expect(snap.completedAt).toBeTruthy();
  });

  it('every event is canonical, sequenced from 0 and the terminal event is last and unique', async () => {
    const { runId } = await startRun('conformance-multi-node');
    const evs = await waitForTerminal(runId);
    evs.forEach((e, i) => {
      expect(e.sequence).toBe(i);
      expect(e.runId).toBe(runId);
      expect(typeof e.eventId).toBe('string');
      expect('payload' in e).toBe(true);
      expect(Number.isNaN(Date.parse(e.timestamp))).toBe(false);
    });
    expect(evs.filter((e) => TERMINAL.has(e.type))).toHaveLength(1);
    expect(TERMINAL.has(evs.at(-1)?.type ?? '')).toBe(true);
    expect(new Set(evs.map((e) => e.eventId)).size).toBe(evs.length);
    const completed = evs.filter((e) => e.type === 'node.completed').map((e) => e.nodeId);
    expect(completed).toEqual(['a', 'b', 'c']);
    const started = evs.find((e) => e.type === 'node.started');
    expect(started?.payload).toMatchObject({ nodeId: 'a', typeId: 'core.noop' });
  });

  it('round-trips inputs into snapshot variables (identity)', async () => {
    const payload = { hello: 'world', n: 42, nested: { list: [1, 2] } };
    const { runId } = await startRun('conformance-identity', { inputs: { payload } });
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.completed');
    const snap = await snapshot(runId);
    expect(snap.variables).toMatchObject({ payload });
    expect(evs.find((e) => e.type === 'node.completed')?.payload).toMatchObject({ outputs: { payload } });
  });

  it('rejects a run whose required input is missing', async () => {
    const r = await call('POST', '/v1/runs', { body: { workflowId: 'conformance-identity' } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'validation_error' });
  });

  it('reports a failing run with error code and message on the snapshot', async () => {
    const r = await call('POST', '/v1/runs', { body: { workflowId: 'conformance-failure' } });
    expect(r.status).toBe(201);
    const runId = (r.body as { runId: string }).runId;
    const evs = await waitForTerminal(runId);
    expect(types(evs)).toEqual(['run.started', 'node.started', 'node.failed', 'run.failed']);
    const failed = evs.at(-1)?.payload as { error: { code: string; message: string } };
    expect(failed.error.code).toBeTruthy();
    const snap = await snapshot(runId);
    expect(snap.status).toBe('failed');
    expect(snap.error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
  });

  it('fails a node requiring an unprovided capability before it starts', async () => {
    const { runId } = await startRun('conformance-capability-missing');
    const evs = await waitForTerminal(runId);
    expect(evs.some((e) => e.type === 'node.started')).toBe(false);
    expect((await snapshot(runId)).error).toMatchObject({ code: 'capability_not_provided' });
  });

  it('enforces configurable.recursionLimit with cap.breached before the over-limit node', async () => {
    const { runId } = await startRun('conformance-cap-breach', { configurable: { recursionLimit: 3 } });
    const evs = await waitForTerminal(runId);
    const i = evs.findIndex((e) => e.type === 'cap.breached');
    expect(i).toBeGreaterThan(0);
    const cap = evs[i]?.payload as { kind: string; limit: number; observed: number };
    expect(cap).toMatchObject({ kind: 'node-executions', limit: 3 });
    expect(cap.observed).toBeGreaterThan(cap.limit);
    expect(evs.filter((e) => e.type === 'node.started')).toHaveLength(3);
    expect((await snapshot(runId)).error).toMatchObject({ code: 'recursion_limit_exceeded' });
  });

  it('enforces configurable.runTimeoutMs as a run-duration breach, not a cancel', async () => {
    const { runId } = await startRun('conformance-run-duration-breach', { configurable: { runTimeoutMs: 1000 } });
    const evs = await waitForTerminal(runId);
    const cap = evs.find((e) => e.type === 'cap.breached')?.payload as { kind: string; limit: number; observed: number };
    expect(cap.kind).toBe('run-duration');
    expect(cap.observed).toBeGreaterThan(cap.limit);
    expect(evs.at(-1)?.type).toBe('run.failed');
    expect((await snapshot(runId)).error).toMatchObject({ code: 'run_timeout' });
  });

  it('rejects invalid reserved configurable values', async () => {
    for (const configurable of [{ recursionLimit: 0 }, { recursionLimit: 'x' }, { runTimeoutMs: -5 }]) {
      const r = await call('POST', '/v1/runs', { body: { workflowId: 'conformance-noop', configurable } });
      expect(r.status, JSON.stringify(configurable)).toBe(400);
    }
  });

  it('validates configurable against a workflow configurableSchema', async () => {
    const wf = await call('GET', '/v1/workflows/conformance-configurable-schema');
    expect(wf.status).toBe(200);
    expect((wf.body as { configurableSchema?: unknown }).configurableSchema).toBeTruthy();
    const bad = await call('POST', '/v1/runs', { body: { workflowId: 'conformance-configurable-schema', configurable: { notAllowed: true } } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'validation_error' });
    const good = await call('POST', '/v1/runs', { body: { workflowId: 'conformance-configurable-schema', configurable: { recursionLimit: 5 } } });
    expect(good.status).toBe(201);
  });

  it('returns the stored workflow definition verbatim and 404 for unknown ids', async () => {
    const r = await call('GET', '/v1/workflows/conformance-multi-node');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: 'conformance-multi-node', nodes: expect.any(Array) });
    expect((await call('GET', '/v1/workflows/no-such-workflow')).status).toBe(404);
  });

  it("lists the tenant's runs with status/workflow filters and cursor pagination", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await startRun('conformance-idempotent', { inputs: { nonce: `list-${i}-${Date.now()}` } })).runId);
    for (const id of ids) await waitForTerminal(id);
    const page1 = await call<{ runs: { runId: string; status: string; workflowId: string }[]; nextCursor?: string }>(
      'GET',
      '/v1/runs?workflowId=conformance-idempotent&status=completed&limit=2',
    );
    expect(page1.status).toBe(200);
    expect(page1.body.runs).toHaveLength(2);
    expect(page1.body.runs.every((r) => r.workflowId === 'conformance-idempotent' && r.status === 'completed')).toBe(true);
    expect(page1.body.nextCursor).toBeTruthy();
    const page2 = await call<{ runs: { runId: string }[] }>(
      'GET',
      `/v1/runs?workflowId=conformance-idempotent&status=completed&limit=2&cursor=${page1.body.nextCursor}`,
    );
    const seen = new Set([...page1.body.runs, ...page2.body.runs].map((r) => r.runId));
    expect(seen.size).toBe(page1.body.runs.length + page2.body.runs.length);
    expect(ids.filter((id) => seen.has(id)).length).toBeGreaterThanOrEqual(Math.min(3, seen.size));
  });

  it.skipIf(!target.inProcess)('masks sensitive variables in events and snapshots (invariant: sensitive-variable-redaction)', async () => {
    const secret = `s3cr3t-${Date.now()}-value`;
    const { runId } = await startRun('weft-secret', { inputs: { token: secret } });
    const evs = await waitForTerminal(runId);
    expect(JSON.stringify(evs)).not.toContain(secret);
    expect(JSON.stringify(await snapshot(runId))).not.toContain(secret);
    expect(evs.at(-1)?.type).toBe('run.completed');
  });
});
