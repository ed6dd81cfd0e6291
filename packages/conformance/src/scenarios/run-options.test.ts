/**
 * AI run options (decision 0026): `configurable.mockProvider` (test keys only, the mock
 * catalog), `configurable.ai.*` / `model` / `temperature` / `maxTokens` / `promptOverrides`
 * applied to the run's AI nodes, and the run-level BYOK reference `configurable.ai.credentialRef`,
 * resolved only through the vault and never echoed. Against the in-process host's fake provider.
 *
 * @see wire-contract.md §5.5; security-contract.md §1.3 AUTH-22, §4.1 SEC-01, §4.5
 */
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunEventDoc } from '@weft/contract';
import { call, callAt, docsOf, lacks, snapshot, sse, startRun, target, waitForTerminal } from '../harness.js';

const MARK = 'CANARY-openwop-CONFORMANCE-NEVER-SECRET';
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const ofType = (evs: RunEventDoc[], type: string) => evs.filter((e) => e.type === type);
const outputsOf = (evs: RunEventDoc[], nodeId: string) =>
  (evs.find((e) => e.type === 'node.completed' && e.nodeId === nodeId)?.payload as { outputs: Record<string, unknown> } | undefined)?.outputs ?? {};

interface FakeRequest {
  path: string;
  model: string;
  authSha256?: string;
  maxTokens?: number;
  temperature?: number;
}
async function fakeRequests(): Promise<FakeRequest[]> {
  return (await callAt<FakeRequest[]>(target.fakeLlm as string, 'GET', '/requests')).body;
}

const skip =
  !target.inProcess || !target.fakeLlm || !target.keyTest
    ? 'needs the in-process host (its test key and fake provider)'
    : await lacks('the AI run-option scenarios', { workflows: ['weft-ai-prompt'] });
if (skip && !target.inProcess) process.stderr.write(`skipping the AI run-option scenarios: ${skip}\n`);

describe.skipIf(skip)('run options: configurable.mockProvider', () => {
  const stream = { id: 'stream-text', config: { tokens: ['Hel', 'lo', ', ', 'world'], finishReason: 'stop', usage: { inputTokens: 3, outputTokens: 4 } } };

  it('invariant: mock-provider-test-keys-only — a production key gets 403 mock_provider_forbidden; an unknown id 400 unsupported_mock_provider', async () => {
    const prod = await call('POST', '/v1/runs', { body: { workflowId: 'weft-ai-prompt', inputs: { prompt: 'x' }, configurable: { mockProvider: stream } } });
    expect(prod.status).toBe(403);
    expect(prod.body).toMatchObject({ error: 'mock_provider_forbidden' });
    const unknown = await call('POST', '/v1/runs', {
      key: target.keyTest as string,
      body: { workflowId: 'weft-ai-prompt', inputs: { prompt: 'x' }, configurable: { mockProvider: { id: 'no-such-mock' } } },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ error: 'unsupported_mock_provider', details: { supported: expect.arrayContaining(['stream-text']) } });
    const badShape = await call('POST', '/v1/runs', {
      key: target.keyTest as string,
      body: { workflowId: 'weft-ai-prompt', inputs: { prompt: 'x' }, configurable: { mockProvider: { id: 'stream-text', extra: 1 } } },
    });
    expect(badShape.status).toBe(400);
  });

  it('discovery advertises testing.mockProviders (stream-text included) and the test key prefix', async () => {
    const d = (await call('GET', '/.well-known/openwop', { key: null })).body as { testing?: { mockProviders: string[]; testKeyPrefix: string } };
    expect(d.testing?.mockProviders).toEqual(expect.arrayContaining(['stream-text', 'tool-calls', 'error', 'usage-only']));
    expect((target.keyTest as string).startsWith(d.testing?.testKeyPrefix as string)).toBe(true);
  });

  it('stream-text: a test key routes every AI node to the mock; its tokens stream in order, nothing reaches a provider', async () => {
    const before = (await fakeRequests()).length;
    const { runId } = await startRun(
      'weft-ai-prompt',
      { inputs: { provider: 'fake-openai', prompt: 'ignored by the mock' }, configurable: { mockProvider: stream } },
      { key: target.keyTest as string },
    );
    const s = await sse(runId, 'streamMode=messages', { deadlineMs: 15_000, key: target.keyTest as string });
    const chunks = docsOf(s.frames).map((d) => d.payload as { chunk: string; isLast?: boolean });
    expect(chunks.map((c) => c.chunk)).toEqual(['Hel', 'lo', ', ', 'world', '']);
    expect(chunks.at(-1)?.isLast).toBe(true);
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.completed');
    expect(outputsOf(evs, 'ai')).toMatchObject({ text: 'Hello, world', finishReason: 'stop', provider: 'mock', usage: { inputTokens: 3, outputTokens: 4 } });
    expect((await fakeRequests()).length).toBe(before);
  });

  it('invariant: mock-provider-test-keys-only — a mock-routed run forks for a test key only', async () => {
    const { runId } = await startRun('weft-ai-prompt', { inputs: { prompt: 'x' }, configurable: { mockProvider: stream } }, { key: target.keyTest as string });
    expect((await waitForTerminal(runId)).at(-1)?.type).toBe('run.completed');
    const prod = await call('POST', `/v1/runs/${runId}:fork`, { body: { mode: 'branch', fromSeq: 0 } });
    expect(prod.status).toBe(403);
    expect(prod.body).toMatchObject({ error: 'mock_provider_forbidden' });
    const test = await call('POST', `/v1/runs/${runId}:fork`, { key: target.keyTest as string, body: { mode: 'branch', fromSeq: 0 } });
    expect(test.status).toBe(201);
  });

  it('the official stream-text fixture runs through the mock (no prompt needed)', async (ctx) => {
    if ((await call('GET', '/v1/workflows/conformance-stream-text')).status !== 200) return ctx.skip();
    const { runId } = await startRun('conformance-stream-text', { configurable: { mockProvider: stream } }, { key: target.keyTest as string });
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.completed');
    expect(ofType(evs, 'output.chunk').map((e) => (e.payload as { chunk: string }).chunk)).toEqual(['Hel', 'lo', ', ', 'world', '']);
  });

  it('error: the mock fails the node with its code', async () => {
    const { runId } = await startRun(
      'weft-ai-prompt',
      { inputs: { prompt: 'x' }, configurable: { mockProvider: { id: 'error', config: { code: 'provider_unavailable', message: 'mock outage' } } } },
      { key: target.keyTest as string },
    );
    const evs = await waitForTerminal(runId);
    expect(ofType(evs, 'node.failed')[0]?.payload).toMatchObject({ error: { code: 'provider_unavailable', message: 'mock outage' } });
  });
});

describe.skipIf(skip)('run options: configurable.ai and the AI overrides', () => {
  beforeAll(async () => {
    // The host's key of fake-openai (the same value ai.test.ts plants; a second create is a 409).
    const r = await call('POST', '/v1/host/weft/secrets', { body: { secretId: 'fake-llm-key', value: ['fakekey', MARK, 'llm', '7f3a9c'].join('-') } });
    if (r.status !== 201 && r.status !== 409) throw new Error(`create secret → ${r.status} ${r.text}`);
  });

  it('configurable.ai.{provider, model, temperature, maxTokens} override the node settings for the run', async () => {
    const { runId } = await startRun('weft-ai-prompt', {
      inputs: { provider: 'fake-anthropic', model: 'fake-json', prompt: 'override me' },
      configurable: { ai: { provider: 'fake-openai', model: 'fake-chat', temperature: 0.25, maxTokens: 33 } },
    });
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.completed');
    expect(ofType(evs, 'provider.usage')[0]?.payload).toMatchObject({ provider: 'fake-openai', model: 'fake-chat' });
    const mine = (await fakeRequests()).filter((q) => q.maxTokens === 33);
    expect(mine.at(-1)).toMatchObject({ path: '/v1/chat/completions', model: 'fake-chat', temperature: 0.25 });
  });

  it('configurable.model, maxTokens and promptOverrides (by node id) apply to the run', async () => {
    const { runId } = await startRun('weft-ai-prompt', {
      inputs: { provider: 'fake-openai', model: 'fake-json', prompt: 'the original prompt' },
      configurable: { model: 'fake-chat', maxTokens: 21, promptOverrides: { ai: 'the overriding prompt' } },
    });
    const evs = await waitForTerminal(runId);
    expect(outputsOf(evs, 'ai').text).toBe('You said: the overriding prompt');
    expect((await fakeRequests()).filter((q) => q.maxTokens === 21).at(-1)).toMatchObject({ model: 'fake-chat' });
  });

  it('refuses an unknown configurable.ai.provider and out-of-range options with 400 validation_error', async () => {
    const bad = async (configurable: Record<string, unknown>) =>
      call('POST', '/v1/runs', { body: { workflowId: 'weft-ai-prompt', inputs: { prompt: 'x' }, configurable } });
    for (const c of [
      { ai: { provider: 'nope' } },
      { ai: { temperature: 3 } },
      { ai: { apiKey: 'x' } },
      { temperature: -1 },
      { promptOverrides: { a: 1 } },
      { escalationThreshold: 2 },
    ]) {
      const r = await bad(c);
      expect(r.status, JSON.stringify(c)).toBe(400);
      expect(r.body).toMatchObject({ error: 'validation_error' });
    }
  });

  it('invariant: byok-raw-key-refused — key material as configurable.ai.credentialRef is refused at creation and not echoed', async () => {
    const raw = ['sk', 'live', MARK, '0123456789'].join('-');
    const r = await call('POST', '/v1/runs', { body: { workflowId: 'weft-ai-prompt', inputs: { prompt: 'x' }, configurable: { ai: { credentialRef: raw } } } });
    expect(r.status).toBe(400);
    expect(r.text.includes(raw)).toBe(false);
    expect(r.text.includes(MARK)).toBe(false);
  });

  it('invariant: run-credential-ref-never-echoed — a canary configurable.ai.credentialRef is resolved through the vault only and appears on no surface', async () => {
    const suffix = Math.random().toString(36).slice(2, 10);
    const ref = `cred_${MARK}-${suffix}`;
    const value = ['runbyok', MARK, 'value', suffix].join('-');
    const created = await call('POST', '/v1/host/weft/secrets', { body: { secretId: ref, value } });
    expect(created.status).toBe(201);
    // fake-echo-key answers with the key it was sent: the value must be scrubbed, and the marker must not name the ref.
    const { runId } = await startRun('weft-ai-prompt', {
      inputs: { prompt: 'who am I' },
      configurable: { ai: { provider: 'fake-openai', model: 'fake-echo-key', credentialRef: ref } },
    });
    const s = await sse(runId, 'streamMode=debug', { deadlineMs: 15_000 });
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.completed');
    expect((await fakeRequests()).some((q) => q.authSha256 === sha(value))).toBe(true);
    const snap = await snapshot(runId);
    expect((snap.configurable as { ai: { credentialRef: string } }).ai.credentialRef).toBe('[REDACTED]');
    const bundle = await call('GET', `/v1/runs/${runId}/debug-bundle`);
    for (const [surface, text] of [
      ['events (poll)', JSON.stringify(evs)],
      ['SSE', JSON.stringify(s.frames)],
      ['snapshot', JSON.stringify(snap)],
      ['debug bundle', bundle.text],
    ] as const) {
      expect(text.includes(ref), `${surface} carries the reference`).toBe(false);
      expect(text.includes(value), `${surface} carries the value`).toBe(false);
      expect(text.includes(MARK), `${surface} carries the canary marker`).toBe(false);
    }
    expect(String(outputsOf(evs, 'ai').text)).toContain('[REDACTED:run-credential]');

    // A reference the vault does not know fails cleanly, and the failure does not name it either.
    const missing = `cred_${MARK}-missing-${suffix}`;
    const r2 = await startRun('weft-ai-prompt', {
      inputs: { prompt: 'x' },
      configurable: { ai: { provider: 'fake-openai', model: 'fake-chat', credentialRef: missing } },
    });
    const evs2 = await waitForTerminal(r2.runId);
    expect(ofType(evs2, 'node.failed')[0]?.payload, JSON.stringify(ofType(evs2, 'node.failed')[0]?.payload)).toMatchObject({
      error: { code: 'credential_not_found' },
    });
    const all = JSON.stringify(evs2) + JSON.stringify(await snapshot(r2.runId));
    expect(all.includes(missing)).toBe(false);
    expect(all.includes(MARK)).toBe(false);
  });
});
