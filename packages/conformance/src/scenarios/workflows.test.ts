import { describe, expect, it } from 'vitest';
import { call, snapshot, startRun, target, waitForTerminal } from '../harness.js';

const def = (id: string, typeId = 'core.noop') => ({
  id,
  name: `Test ${id}`,
  version: '1.0',
  nodes: [{ id: 'n', typeId, name: 'n', position: { x: 0, y: 0 }, config: {}, inputs: {} }],
  edges: [],
  triggers: [{ id: 'manual', type: 'manual', enabled: true }],
  variables: [],
  metadata: {},
  settings: { timeout: 10000 },
});

describe.skipIf(!target.inProcess)('weft: workflows extension', () => {
  it('registers, lists, serves and deletes a workflow', async () => {
    const id = `wf-${Date.now().toString(36)}`;
    const created = await call<{ id: string; hash: string; created: boolean }>('POST', '/v1/host/weft/workflows', { body: def(id) });
    expect(created.status).toBe(201);
    expect(created.body.hash).toMatch(/^[0-9a-f]{64}$/);
    const same = await call<{ created: boolean; hash: string }>('POST', '/v1/host/weft/workflows', { body: def(id) });
    expect(same.status).toBe(200);
    expect(same.body.hash).toBe(created.body.hash);
    const listed = await call<{ workflows: { id: string }[] }>('GET', '/v1/host/weft/workflows');
    expect(listed.body.workflows.map((w) => w.id)).toContain(id);
    expect((await call('GET', `/v1/workflows/${id}`)).body).toMatchObject({ id });
    expect((await call('DELETE', `/v1/host/weft/workflows/${id}`)).status).toBe(204);
    expect((await call('GET', `/v1/workflows/${id}`)).status).toBe(404);
    expect((await call('DELETE', `/v1/host/weft/workflows/${id}`)).status).toBe(404);
  });

  it('rejects invalid definitions with 400 workflow_invalid naming the problem', async () => {
    const noNodes = { ...def('wf-bad'), nodes: [] };
    const r1 = await call('POST', '/v1/host/weft/workflows', { body: noNodes });
    expect(r1.status).toBe(400);
    expect(r1.body).toMatchObject({ error: 'workflow_invalid' });
    const cyclic = {
      ...def('wf-cycle'),
      nodes: [def('x').nodes[0], { ...def('x').nodes[0], id: 'm' }],
      edges: [
        { id: 'a', sourceNodeId: 'n', targetNodeId: 'm' },
        { id: 'b', sourceNodeId: 'm', targetNodeId: 'n' },
      ],
    };
    const r2 = await call('POST', '/v1/host/weft/workflows', { body: cyclic });
    expect(r2.status).toBe(400);
    expect(JSON.stringify(r2.body)).toContain('cycle');
  });

  it('a run keeps its pinned definition when the id is re-registered', async () => {
    const id = `wf-pin-${Date.now().toString(36)}`;
    await call('POST', '/v1/host/weft/workflows', { body: def(id, 'core.delay') });
    const { runId } = await startRun(id);
    const v2 = await call('POST', '/v1/host/weft/workflows', { body: def(id, 'core.fail') });
    expect(v2.status).toBe(201);
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.completed');
    const next = await startRun(id);
    const evs2 = await waitForTerminal(next.runId);
    expect(evs2.at(-1)?.type).toBe('run.failed');
    expect((await snapshot(next.runId)).status).toBe('failed');
  });

  it('refuses capability-gated node types at run creation', async () => {
    const id = `wf-gated-${Date.now().toString(36)}`;
    await call('POST', '/v1/host/weft/workflows', { body: def(id, 'core.conversationGate') });
    const r = await call('POST', '/v1/runs', { body: { workflowId: id } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({
      error: 'capability_required',
      details: { offendingTypeId: 'core.conversationGate', requiredCapability: 'conversationPrimitive' },
    });
  });

  it('refuses settings.compensation at registration with capability_required (compensation)', async () => {
    const id = `wf-comp-${Date.now().toString(36)}`;
    const body = {
      ...def(id),
      settings: { timeout: 10000, compensation: { profileVersion: '1', orderingModel: 'reverse-completion', triggers: ['node-failure'] } },
    };
    const r = await call('POST', '/v1/host/weft/workflows', { body });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'capability_required', details: { requiredCapability: 'compensation' } });
    expect((await call('GET', `/v1/workflows/${id}`)).status).toBe(404);
  });

  it('refuses unknown node types at registration with 400 naming them', async () => {
    const id = `wf-unknown-${Date.now().toString(36)}`;
    const body = { ...def(id), nodes: [def(id).nodes[0], { ...def(id, 'vendor.acme.nope').nodes[0], id: 'm' }] };
    const r = await call('POST', '/v1/host/weft/workflows', { body });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'workflow_invalid', details: { unknownTypes: ['vendor.acme.nope'], errors: [{ path: '/nodes/1/typeId' }] } });
    expect((await call('GET', `/v1/workflows/${id}`)).status).toBe(404);
    expect((await call('POST', '/v1/runs', { body: { workflowId: id } })).status).toBe(400);
  });

  it('refuses an unknown onChildFailure policy and accepts absorb', async () => {
    const id = `wf-child-${Date.now().toString(36)}`;
    const sub = (onChildFailure: string) => ({
      ...def(id),
      nodes: [{ ...def(id, 'core.subWorkflow').nodes[0], config: { workflowId: 'conformance-noop', onChildFailure } }],
    });
    const bad = await call('POST', '/v1/host/weft/workflows', { body: sub('ignore') });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'workflow_invalid', details: { errors: [{ path: '/nodes/0/config/onChildFailure' }] } });
    expect((await call('POST', '/v1/host/weft/workflows', { body: sub('absorb') })).status).toBe(201);
  });

  it('invariant: unknown-workflow-no-echo — an unknown workflowId is refused without echoing it', async () => {
    const canary = `canary-${Date.now().toString(36)}-wf`;
    const r = await call('POST', '/v1/runs', { body: { workflowId: canary } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'validation_error' });
    expect(r.text).not.toContain(canary);
  });

  it('knows the conversation fixtures (loaded at boot) and refuses their runs with capability_required', async (ctx) => {
    // core.conversationGate needs conversationPrimitive, which this host does not advertise (decision 0026).
    if ((await call('GET', '/v1/workflows/conformance-conversation-lifecycle')).status !== 200) return ctx.skip();
    const r = await call('POST', '/v1/runs', { body: { workflowId: 'conformance-conversation-lifecycle' } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({
      error: 'capability_required',
      details: { requiredCapability: 'conversationPrimitive', offendingTypeId: 'core.conversationGate' },
    });
  });

  it('routes branches with edge conditions and rescues handled failures', async () => {
    const yes = await startRun('weft-branch', { inputs: { approved: true } });
    const evs = await waitForTerminal(yes.runId);
    expect(evs.filter((e) => e.type === 'node.skipped').map((e) => e.nodeId)).toEqual(['no']);
    const rec = await startRun('weft-recover');
    const evs2 = await waitForTerminal(rec.runId);
    expect(evs2.at(-1)?.type).toBe('run.completed');
    expect(evs2.filter((e) => e.type === 'node.completed').map((e) => e.nodeId)).toEqual(['handler']);
  });
});
