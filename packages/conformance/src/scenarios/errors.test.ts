import { describe, expect, it } from 'vitest';
import { isErrorCode } from '@weft/contract';
import { assertErrorEnvelope, call, lacks, startRun, target, waitForEvent } from '../harness.js';
import { authorityOf, nodeUpload, rawExchange, type RawResponse } from '../raw-http.js';

/** Asserts a raw response is `status` with exactly the closed envelope and a catalog code. */
function expectEnvelope(r: RawResponse, status: number, code?: string): { error: string; message: string; details?: Record<string, unknown> } {
  expect(r.status).toBe(status);
  expect(r.headers['content-type'] ?? '').toContain('application/json');
  const body = JSON.parse(r.body) as { error: string; message: string; details?: Record<string, unknown> };
  assertErrorEnvelope(body);
  expect(isErrorCode(body.error), body.error).toBe(true);
  if (code) expect(body.error).toBe(code);
  return body;
}

const host = authorityOf(target.baseUrl);
const auth = `authorization: Bearer ${target.keyA}\r\n`;
const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

describe.skipIf(await lacks('the error scenarios', { fixtures: ['conformance-noop'] }))('core: errors', () => {
  it('invariant: closed-error-envelope — unknown /v1 routes answer 404 with the envelope', async () => {
    const r = await call('GET', '/v1/definitely-not-a-route');
    expect(r.status).toBe(404);
    expect((r.body as { error: string }).error).toBe('not_found');
  });

  it('answers 400 under unversioned roots', async () => {
    for (const p of ['/runs', '/api/runs', '/']) {
      const r = await call('GET', p);
      expect(r.status, p).toBe(400);
    }
  });

  it('invariant: closed-error-envelope — an empty create body is a 400 validation_error', async () => {
    const r = await call('POST', '/v1/runs', { body: {} });
    expect(r.status).toBe(400);
    expect((r.body as { error: string }).error).toBe('validation_error');
  });

  it('rejects unknown top-level fields (the create body is closed)', async () => {
    const r = await call('POST', '/v1/runs', { body: { workflowId: 'conformance-noop', surprise: 1 } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'validation_error' });
  });

  it('answers malformed JSON with 400, never 5xx', async () => {
    const r = await call('POST', '/v1/runs', { rawBody: '{"workflowId":', headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(400);
  });

  it('answers a non-JSON content type with 415', async () => {
    const r = await call('POST', '/v1/runs', { rawBody: 'workflowId=conformance-noop', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(r.status).toBe(415);
  });

  it('answers an oversized body with 413', async () => {
    const big = JSON.stringify({ workflowId: 'conformance-noop', inputs: { blob: 'x'.repeat(2 * 1024 * 1024) } });
    const r = await call('POST', '/v1/runs', { rawBody: big, headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(413);
    expect(r.body).toMatchObject({ error: 'payload_too_large' });
  });

  it('invariant: closed-error-envelope — a Node http client uploading an oversized body reads the 413, never EPIPE', async () => {
    // The host used to close the socket while the client was still writing; Node's client
    // then failed with EPIPE about half the time. Every attempt must now read the 413.
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${target.keyA}` };
    for (let i = 0; i < 8; i++) {
      const r = await nodeUpload(target.baseUrl, '/v1/runs', 8 * 1024 * 1024, headers);
      expect(r, `attempt ${i}`).toMatchObject({ status: 413 });
      expect(r.errorCode, `attempt ${i}`).toBeUndefined();
      const body = JSON.parse(r.body ?? '') as unknown;
      assertErrorEnvelope(body);
      expect(body).toMatchObject({ error: 'payload_too_large' });
    }
  });

  it('invariant: closed-error-envelope — a repeated query parameter is a 400 naming it, on the stream and the list', async () => {
    const { runId } = await startRun('conformance-noop');
    const stream = await call('GET', `/v1/runs/${runId}/events?streamMode=debug&streamMode=values`);
    expect(stream.status).toBe(400);
    expect(stream.body).toMatchObject({ error: 'validation_error', details: { errors: [{ path: '/streamMode' }] } });
    const list = await call('GET', '/v1/runs?workflowId=a&workflowId=b');
    expect(list.status).toBe(400);
    expect(list.body).toMatchObject({ error: 'validation_error', details: { errors: [{ path: '/workflowId' }] } });
    const poll = await call('GET', `/v1/runs/${runId}/events/poll?timeout=0&timeout=1`);
    expect(poll.status).toBe(400);
  });

  it('invariant: closed-error-envelope — a NUL or other control character in a query value is a 400, on every store', async () => {
    for (const path of ['/v1/host/weft/keys?tenant=%00', '/v1/runs?workflowId=a%00b', '/v1/runs?cursor=%0A']) {
      const r = await call('GET', path);
      expect(r.status, path).toBe(400);
      expect(r.body, path).toMatchObject({ error: 'validation_error' });
    }
  });

  it('invariant: json-depth-limit — a create body nested 5,000 deep is a 400 before it is parsed', async () => {
    const raw = `{"workflowId":"conformance-noop","inputs":{"deep":${nested(5000)}}}`;
    const r = await call('POST', '/v1/runs', { rawBody: raw, headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'invalid_json' });
    const ok = await call('POST', '/v1/runs', { body: { workflowId: 'conformance-noop', inputs: { deep: JSON.parse(nested(40)) as unknown } } });
    expect(ok.status).toBe(201);
  });

  it('invariant: json-depth-limit — a 20,000-deep approval body is a 400 and leaves the gate pending', async () => {
    const { runId } = await startRun('conformance-approval');
    await waitForEvent(runId, 'interrupt.requested');
    const raw = `{"action":${nested(20_000)}}`;
    for (const path of [`/v1/runs/${runId}/approvals/gate`, `/v1/runs/${runId}/interrupts/gate`]) {
      const r = await call('POST', path, { rawBody: raw, headers: { 'content-type': 'application/json' } });
      expect(r.status, path).toBe(400);
      expect(r.body, path).toMatchObject({ error: 'invalid_json' });
    }
    const snap = await call('GET', `/v1/runs/${runId}`);
    expect(snap.body).toMatchObject({ status: 'waiting-approval' });
    await call('POST', `/v1/runs/${runId}/cancel`, { body: {} });
  });

  it('invariant: closed-error-envelope — a known method on a path without it is a 405 with Allow', async () => {
    const r = await call('PROPFIND', '/v1/runs');
    expect(r.status).toBe(405);
    expect(r.body).toMatchObject({ error: 'method_not_allowed' });
    const allow = (r.headers.get('allow') ?? '').split(/,\s*/);
    expect(allow).toEqual(expect.arrayContaining(['GET', 'POST']));
    const del = await call('DELETE', '/v1/runs/run_unknown_1');
    expect(del.status).toBe(405);
  });

  it('invariant: closed-error-envelope — an unknown HTTP method is a 400 envelope', async () => {
    expectEnvelope(await rawExchange(target.baseUrl, `BREW / HTTP/1.1\r\nhost: ${host}\r\n\r\n`), 400, 'bad_request');
    expectEnvelope(await rawExchange(target.baseUrl, `BREW /v1/runs HTTP/1.1\r\nhost: ${host}\r\n${auth}\r\n`), 400, 'bad_request');
  });

  it('invariant: closed-error-envelope — an undecodable URL is a 400 and an over-long one a 414', async () => {
    const bad = await call('GET', '/v1/runs/%zz');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'bad_request' });
    expect(bad.text).not.toContain('%zz');
    const longQuery = await call('GET', `/v1/runs?cursor=${'a'.repeat(9000)}`);
    expect(longQuery.status).toBe(414);
    expect(longQuery.body).toMatchObject({ error: 'uri_too_long' });
    const longPath = await rawExchange(target.baseUrl, `GET /v1/runs/${'a'.repeat(20_000)} HTTP/1.1\r\nhost: ${host}\r\n\r\n`);
    expectEnvelope(longPath, 414, 'uri_too_long');
  });

  it('invariant: closed-error-envelope — oversized headers are a 431 envelope', async () => {
    const r = await rawExchange(target.baseUrl, `GET /v1/runs HTTP/1.1\r\nhost: ${host}\r\nx-padding: ${'p'.repeat(20_000)}\r\n\r\n`);
    expectEnvelope(r, 431, 'header_fields_too_large');
  });

  it('invariant: closed-error-envelope — an unmet Expect is a 417 envelope, and 100-continue still works', async () => {
    expectEnvelope(await rawExchange(target.baseUrl, `GET /v1/runs HTTP/1.1\r\nhost: ${host}\r\n${auth}expect: bogus\r\n\r\n`), 417, 'expectation_failed');
    const cont = await rawExchange(target.baseUrl, `GET /v1/runs?limit=1 HTTP/1.1\r\nhost: ${host}\r\n${auth}expect: 100-continue\r\n\r\n`);
    expect(cont.interim).toEqual([100]);
    expect(cont.status).toBe(200);
  });

  it('invariant: closed-error-envelope — a 100-continue upload announcing an oversized body gets its 413 before any 100', async () => {
    const head = `POST /v1/runs HTTP/1.1\r\nhost: ${host}\r\n${auth}content-type: application/json\r\ncontent-length: ${64 * 1024 * 1024}\r\nexpect: 100-continue\r\n\r\n`;
    const r = await rawExchange(target.baseUrl, head);
    expect(r.interim).toEqual([]);
    expectEnvelope(r, 413, 'payload_too_large');
  });

  it('invariant: closed-error-envelope — HTTP/1.1 without Host, and a garbage request line, are 400 envelopes', async () => {
    expectEnvelope(await rawExchange(target.baseUrl, `GET /v1/runs HTTP/1.1\r\n${auth}\r\n`), 400, 'bad_request');
    expectEnvelope(await rawExchange(target.baseUrl, 'this is not http\r\n\r\n'), 400, 'bad_request');
    expectEnvelope(await rawExchange(target.baseUrl, `GET /v1/runs HTTP/1.1\r\nhost: ${host}\r\nbad header line\r\n\r\n`), 400, 'bad_request');
  });

  it('answers a non-object JSON body with 400', async () => {
    for (const raw of ['[]', '"x"', '42', 'null']) {
      const r = await call('POST', '/v1/runs', { rawBody: raw, headers: { 'content-type': 'application/json' } });
      expect(r.status, raw).toBe(400);
    }
  });

  it('answers unknown and oversized run ids with a clear 4xx', async () => {
    const unknown = await call('GET', '/v1/runs/run_unknown_123');
    expect(unknown.status).toBe(404);
    const long = await call('GET', `/v1/runs/${'r'.repeat(300)}`);
    expect([400, 404]).toContain(long.status);
    const odd = await call('GET', '/v1/runs/%F0%9F%92%A5');
    expect([400, 404]).toContain(odd.status);
  });

  it('rejects an unknown workflowId on create with a 4xx that does not echo it', async () => {
    const r = await call('POST', '/v1/runs', { body: { workflowId: 'no-such-workflow' } });
    expect([400, 404]).toContain(r.status);
    if (target.inProcess) expect(r.body).toEqual({ error: 'validation_error', message: 'Unknown workflowId.' });
    expect(r.text).not.toContain('no-such-workflow');
  });

  it('validates list query parameters', async () => {
    expect((await call('GET', '/v1/runs?status=exploded')).status).toBe(400);
    expect((await call('GET', '/v1/runs?limit=0')).status).toBe(400);
    expect((await call('GET', '/v1/runs?cursor=@@@')).status).toBe(400);
  });
});
