/**
 * Redaction at the append boundary: secret-shaped run inputs, tags and metadata never reach
 * run.started or any other surface — poll, every SSE stream mode, the snapshot, the run list,
 * the create response — and error envelopes never echo them.
 *
 * @see security-contract.md §4.2, §4.3, docs/security/README.md "Redaction"
 */
import { describe, expect, it } from 'vitest';
import type { RunEventDoc } from '@weft/contract';
import { call, docsOf, poll, snapshot, sse, target, waitForTerminal } from '../harness.js';

const CANARY = 'CANARY-openwop-CONFORMANCE-NEVER-SECRET';
// Assembled at runtime so secret scanners do not flag the source.
const j = (...parts: string[]): string => parts.join('');
const b64u = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

/** Secret-shaped values, each carrying the canary marker where its shape allows. */
const SECRETS = {
  openai: j('sk-', 'proj-', CANARY, '-0123456789abcdef'),
  anthropic: j('sk-', 'ant-', 'api03-', CANARY, '-0123456789'),
  jwt: `${b64u({ alg: 'HS256', typ: 'JWT' })}.${b64u({ sub: CANARY })}.c2lnbmF0dXJlLXNpZ25hdHVyZQ`,
  bearer: j('Bearer ', CANARY, '-2f9c1a7e'),
  pem: j('-----BEGIN ', 'PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n', CANARY, '\n-----END ', 'PRIVATE KEY-----'),
  aws: j('AKIA', 'Q3EXAMPLE7CANARY'),
  github: j('ghp_', 'CANARY0penwop0CONFORMANCE0NEVER0SECRET0'),
  google: j('AIza', 'Sy', CANARY.replaceAll('-', '_').slice(0, 33)),
};
const VALUES = Object.values(SECRETS);

/** Fails when `text` (one surface) carries any secret, any part of the JWT, or the canary marker. */
function expectClean(surface: string, text: string): void {
  for (const v of VALUES) expect(text.includes(v), `${surface} carries a secret`).toBe(false);
  expect(text.includes(SECRETS.jwt.split('.')[1] as string), `${surface} carries the JWT payload`).toBe(false);
  expect(text.includes(CANARY), `${surface} carries the canary marker`).toBe(false);
}

describe.skipIf(!target.inProcess)('security: redaction of run inputs at the append boundary', () => {
  it('invariant: secret-leakage-eventlog-payload — secret-shaped inputs, tags and metadata appear on no surface, redacted in run.started', async () => {
    const body = {
      workflowId: 'weft-hello',
      inputs: {
        greeting: `hello, ${SECRETS.openai} and ${SECRETS.jwt}`,
        apiKey: SECRETS.anthropic,
        header: SECRETS.bearer,
        nested: { pem: SECRETS.pem, list: [SECRETS.aws, SECRETS.github, { google: SECRETS.google }] },
      },
      tags: ['plain-tag', SECRETS.openai],
      metadata: { note: `called with ${SECRETS.bearer}` },
    };
    const created = await call<{ runId: string }>('POST', '/v1/runs', { body });
    expect(created.status).toBe(201);
    expectClean('create response', created.text);
    const runId = created.body.runId;
    const events = await waitForTerminal(runId);
    expect(events.at(-1)?.type).toBe('run.completed');

    // Positive control: run.started still carries the inputs, with markers in place of secrets.
    const started = events.find((e) => e.type === 'run.started') as RunEventDoc;
    const payload = started.payload as { inputs: Record<string, unknown>; tags?: string[]; metadata?: Record<string, unknown> };
    expect(payload.inputs.greeting).toBe('hello, [REDACTED] and [REDACTED]');
    expect(payload.inputs).toMatchObject({
      apiKey: '[REDACTED]',
      header: '[REDACTED]',
      nested: { pem: '[REDACTED]', list: ['[REDACTED]', '[REDACTED]', { google: '[REDACTED]' }] },
    });
    expect(payload.tags).toEqual(['plain-tag', '[REDACTED]']);
    expect(payload.metadata).toEqual({ note: 'called with [REDACTED]' });
    // The node received and emitted the redacted value too (the secret never reached the run row).
    const greeted = events.find((e) => e.type === 'node.completed' && e.nodeId === 'greet');
    expect(JSON.stringify(greeted?.payload)).toContain('hello, [REDACTED] and [REDACTED]');

    expectClean('events (long-poll)', (await poll(runId, 'lastSequence=-1')).text);
    expectClean('events (waitForTerminal)', JSON.stringify(events));
    for (const mode of ['updates', 'debug', 'values', 'messages', 'updates,messages', 'updates,debug']) {
      const s = await sse(runId, `streamMode=${encodeURIComponent(mode)}`);
      expect(s.status, mode).toBe(200);
      // `messages` alone carries only AI chunks, which this workflow has none of.
      if (mode !== 'messages') expect(s.frames.length, mode).toBeGreaterThan(0);
      expectClean(`SSE ${mode}`, JSON.stringify(s.frames));
    }
    const debug = docsOf((await sse(runId, 'streamMode=debug')).frames);
    expect(debug.map((d) => d.type)).toContain('run.started');

    const snap = await snapshot(runId);
    expectClean('snapshot', JSON.stringify(snap));
    expect(snap).toMatchObject({ variables: { apiKey: '[REDACTED]' }, tags: ['plain-tag', '[REDACTED]'] });
    const list = await call<{ runs: { runId: string }[] }>('GET', '/v1/runs?workflowId=weft-hello&limit=200');
    expect(list.body.runs.map((r) => r.runId)).toContain(runId);
    expectClean('GET /v1/runs', list.text);
  });

  it('invariant: secret-leakage-eventlog-payload — a secret-shaped value of a declared-sensitive input is masked on every surface', async () => {
    const created = await call<{ runId: string }>('POST', '/v1/runs', { body: { workflowId: 'weft-secret', inputs: { token: SECRETS.anthropic } } });
    expect(created.status).toBe(201);
    const runId = created.body.runId;
    const events = await waitForTerminal(runId);
    expect(events.at(-1)?.type).toBe('run.completed');
    expect((events[0]?.payload as { inputs: { token: string } }).inputs.token).toBe('[REDACTED]');
    expectClean('events', JSON.stringify(events));
    expectClean('SSE debug', JSON.stringify((await sse(runId, 'streamMode=debug')).frames));
    expectClean('SSE values', JSON.stringify((await sse(runId, 'streamMode=values')).frames));
    expectClean('snapshot', JSON.stringify(await snapshot(runId)));
  });

  it('invariant: secret-leakage-error-envelope — an error that names caller data never echoes a secret-shaped value', async () => {
    const r = await call('POST', '/v1/host/weft/keys', { body: { scopes: [SECRETS.openai.slice(0, 60)] } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'validation_error' });
    expectClean('error envelope', r.text);
    expect(r.text).not.toContain(SECRETS.openai.slice(0, 40));
    // An envelope that does carry the offending value in details gets it scrubbed on the way out.
    const { runId } = (await call<{ runId: string }>('POST', '/v1/runs', { body: { workflowId: 'conformance-noop' } })).body;
    const shaped = j('sk-', 'proj-', 'abcdefghijklmnopqrstuvwx');
    const e = await call<{ details: { bufferMs: string } }>('GET', `/v1/runs/${runId}/events?bufferMs=${shaped}`, { headers: { accept: 'text/event-stream' } });
    expect(e.status).toBe(400);
    expect(e.body.details.bufferMs).toBe('[REDACTED]');
    expect(e.text).not.toContain(shaped);
  });
});
