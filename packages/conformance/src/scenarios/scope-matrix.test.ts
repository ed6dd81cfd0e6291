import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCOPES } from '@weft/contract';
import { OWN_HOSTS, callAt } from '../own-host.js';

/** Every protected route with the scope it requires (and a body where one is needed). */
const ROUTES: [string, string, string, unknown?][] = [
  ['GET', '/v1/workflows/conformance-noop', 'manifest:read'],
  ['GET', '/v1/host/weft/workflows', 'manifest:read'],
  ['POST', '/v1/host/weft/workflows', 'workflows:write', {}],
  ['DELETE', '/v1/host/weft/workflows/conformance-noop', 'workflows:write'],
  ['POST', '/v1/runs', 'runs:create', { workflowId: 'conformance-noop' }],
  ['GET', '/v1/runs', 'runs:read'],
  ['GET', '/v1/runs/RUN', 'runs:read'],
  ['GET', '/v1/runs/RUN/events', 'runs:read'],
  ['GET', '/v1/runs/RUN/events/poll?timeout=0', 'runs:read'],
  ['GET', '/v1/runs/RUN/interrupts', 'runs:read'],
  ['GET', '/v1/runs/RUN/debug-bundle', 'runs:read'],
  ['GET', '/v1/host/weft/interrupts', 'runs:read'],
  ['POST', '/v1/runs/RUN/cancel', 'runs:cancel', {}],
  ['POST', '/v1/runs:bulk-cancel', 'runs:cancel', { runIds: ['RUN'] }],
  ['POST', '/v1/runs/RUN:pause', 'runs:cancel', {}],
  ['POST', '/v1/runs/RUN:resume', 'runs:cancel', {}],
  // A fork needs both runs:create and runs:read.
  ['POST', '/v1/runs/RUN:fork', 'runs:create', { mode: 'replay' }],
  ['POST', '/v1/runs/RUN:fork', 'runs:read', { mode: 'replay' }],
  ['POST', '/v1/runs/RUN/interrupts/gate', 'approvals:respond', { resumeValue: { action: 'accept' } }],
  ['POST', '/v1/runs/RUN/approvals/gate', 'approvals:respond', { action: 'accept' }],
  ['GET', '/v1/runs/RUN/artifacts/a1', 'artifacts:read'],
  ['GET', '/v1/audit/verify?fromSeq=0&toSeq=0', 'audit:read'],
  ['GET', '/v1/host/weft/keys', 'keys:manage'],
  ['POST', '/v1/host/weft/keys', 'keys:manage', { name: 'x', scopes: ['runs:read'] }],
  ['GET', '/v1/host/weft/secrets', 'secrets:read'],
  ['GET', '/v1/host/weft/secrets/s1', 'secrets:read'],
  ['POST', '/v1/host/weft/secrets', 'secrets:write', { secretId: 's1', value: 'a-value-long-enough-0123' }],
  ['POST', '/v1/host/weft/secrets/s1:rotate', 'secrets:write', { value: 'a-value-long-enough-0123' }],
  ['DELETE', '/v1/host/weft/secrets/s1', 'secrets:write'],
];

/** One key per scope holding every scope except that one. */
const keyWithout = (scope: string): string => `scope-matrix-without-${scope.replace(':', '-')}-0123456789`;
const ALL = 'scope-matrix-all-scopes-key-0123456789';

let host: { url: string; stop(): Promise<void> } | undefined;
let runId = '';

beforeAll(async () => {
  if (!OWN_HOSTS) return;
  const { startTestHost } = await import('@weft/testkit');
  host = await startTestHost({
    store: 'memory',
    config: {
      apiKeys: [
        { tenant: 'matrix', key: ALL, scopes: [...SCOPES] },
        ...SCOPES.map((s) => ({ tenant: 'matrix', key: keyWithout(s), scopes: SCOPES.filter((x) => x !== s) })),
      ],
    },
  });
  const r = await callAt<{ runId: string }>(host.url, 'POST', '/v1/runs', { bearer: ALL, body: { workflowId: 'conformance-approval' } });
  runId = r.body.runId;
});

afterAll(async () => {
  await host?.stop();
});

describe.skipIf(!OWN_HOSTS)('security: scope matrix', () => {
  it.each(ROUTES)('invariant: scope-enforced — %s %s needs %s and answers 403 naming it', async (method, path, scope, body) => {
    const url = (host as { url: string }).url;
    const r = await callAt(url, method, path.replace('RUN', runId), { bearer: keyWithout(scope), ...(body === undefined ? {} : { body }) });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ error: 'forbidden', details: { scopeRequired: scope } });
  });

  it.each(ROUTES)('invariant: auth-before-lookup — %s %s without a credential answers 401', async (method, path, _scope, body) => {
    const url = (host as { url: string }).url;
    const r = await callAt(url, method, path.replace('RUN', 'run_missing_entirely'), { ...(body === undefined ? {} : { body }) });
    expect(r.status).toBe(401);
  });
});
