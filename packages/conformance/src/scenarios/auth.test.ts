import { describe, expect, it } from 'vitest';
import { call, lacks, startRun, target } from '../harness.js';

const CANARY = 'CANARY-openwop-CONFORMANCE-NEVER-SECRET';
const JWT_CANARY = `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIke${CANARY}.c2lnbmF0dXJl`;

/** Representative protected routes, with a method and a body where one is needed. */
const PROTECTED: [string, string, unknown?][] = [
  ['GET', '/v1/workflows/conformance-noop'],
  ['POST', '/v1/runs', { workflowId: 'conformance-noop' }],
  ['GET', '/v1/runs'],
  ['GET', '/v1/runs/run_does_not_exist'],
  ['GET', '/v1/runs/run_does_not_exist/events'],
  ['GET', '/v1/runs/run_does_not_exist/events/poll'],
  ['POST', '/v1/runs/run_does_not_exist/cancel', {}],
  ['POST', '/v1/runs:bulk-cancel', { runIds: ['run_does_not_exist'] }],
  ['GET', '/v1/runs/run_does_not_exist/artifacts/art_1'],
  ['GET', '/v1/host/weft/workflows'],
];

describe.skipIf(await lacks('the core auth scenarios', { fixtures: ['conformance-noop'] }))('core: auth', () => {
  it.each(PROTECTED)('invariant: auth-before-lookup — %s %s without credentials answers 401 unauthenticated', async (method, path, body) => {
    const r = await call(method, path, { key: null, ...(body === undefined ? {} : { body }) });
    expect(r.status).toBe(401);
    expect((r.body as { error: string }).error).toBe('unauthenticated');
  });

  it('invariant: auth-before-lookup — an unknown artifact of an unknown run is 401 without credentials, never 404 or a redirect', async () => {
    const r = await call('GET', '/v1/runs/run_nope/artifacts/nope', { key: null });
    expect(r.status).toBe(401);
  });

  it.each([
    ['a wrong scheme', `Basic ${Buffer.from('a:b').toString('base64')}`],
    ['an empty bearer', 'Bearer '],
    ['an unknown key', 'Bearer not-a-real-key-0000000000000000'],
    ['two tokens', 'Bearer a b'],
  ])('rejects %s with 401, not 403', async (_what, header) => {
    const r = await call('POST', '/v1/runs', { key: null, headers: { authorization: header }, body: { workflowId: 'conformance-noop' } });
    expect(r.status).toBe(401);
    expect((r.body as { error: string }).error).toBe('unauthenticated');
  });

  it.each([CANARY, JWT_CANARY, `cred_${CANARY}`])('invariant: secret-leakage-auth-middleware — never echoes a presented credential (%#)', async (token) => {
    const r = await call('GET', '/v1/runs/run_x', { key: token });
    expect(r.status).toBe(401);
    expect(r.text).not.toContain(token);
    expect(r.text).not.toContain(CANARY);
    for (const [, v] of r.headers) expect(v).not.toContain(CANARY);
  });

  it('invariant: secret-leakage-error-envelope — error messages never carry key material', async () => {
    const r = await call('POST', '/v1/runs', { body: { workflowId: 'conformance-noop', bogus: target.keyA } });
    expect(r.status).toBe(400);
    expect(r.text).not.toContain(target.keyA);
  });

  it.skipIf(!target.keyReadOnly)('invariant: scope-enforced — a key without runs:create gets 403 forbidden naming the scope', async () => {
    const r = await call('POST', '/v1/runs', { key: target.keyReadOnly as string, body: { workflowId: 'conformance-noop' } });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ error: 'forbidden', details: { scopeRequired: 'runs:create' } });
  });

  it.skipIf(!target.keyCancelOnly)('invariant: scope-enforced — runs:cancel does not imply runs:read', async () => {
    const run = await startRun('conformance-noop');
    const read = await call('GET', `/v1/runs/${run.runId}`, { key: target.keyCancelOnly as string });
    expect(read.status).toBe(403);
    expect(read.body).toMatchObject({ error: 'forbidden', details: { scopeRequired: 'runs:read' } });
    const events = await call('GET', `/v1/runs/${run.runId}/events/poll`, { key: target.keyCancelOnly as string });
    expect(events.status).toBe(403);
    const cancel = await call('POST', `/v1/runs/${run.runId}/cancel`, { key: target.keyCancelOnly as string, body: {} });
    expect([200, 409]).toContain(cancel.status);
  });

  it.skipIf(!target.keyReadOnly)('invariant: scope-enforced — a read-only key can read but not cancel or register workflows', async () => {
    const run = await startRun('conformance-noop');
    expect((await call('GET', `/v1/runs/${run.runId}`, { key: target.keyReadOnly as string })).status).toBe(200);
    const cancel = await call('POST', `/v1/runs/${run.runId}/cancel`, { key: target.keyReadOnly as string, body: {} });
    expect(cancel.status).toBe(403);
    expect(cancel.body).toMatchObject({ details: { scopeRequired: 'runs:cancel' } });
    const reg = await call('POST', '/v1/host/weft/workflows', { key: target.keyReadOnly as string, body: {} });
    expect(reg.status).toBe(403);
  });
});
