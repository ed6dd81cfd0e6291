import { describe, expect, it } from 'vitest';
import { MAX_URL_BYTES, clientErrorAnswer, jsonDepthExceeds, queryError } from './request-limits.js';

const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

describe('jsonDepthExceeds', () => {
  it('allows exactly the limit and refuses one level more', () => {
    expect(jsonDepthExceeds(nested(64), 64)).toBe(false);
    expect(jsonDepthExceeds(nested(65), 64)).toBe(true);
    expect(jsonDepthExceeds(`{"a":${nested(63)}}`, 64)).toBe(false);
    expect(jsonDepthExceeds(`{"a":${nested(64)}}`, 64)).toBe(true);
  });

  it('ignores brackets inside strings, including after escaped quotes', () => {
    expect(jsonDepthExceeds(JSON.stringify({ s: '['.repeat(500) }), 4)).toBe(false);
    expect(jsonDepthExceeds(JSON.stringify({ s: `\\"${'{'.repeat(500)}` }), 4)).toBe(false);
    expect(jsonDepthExceeds(`{"s":"\\\\"}${nested(10)}`, 4)).toBe(true);
  });

  it('counts depth, not the number of containers', () => {
    expect(jsonDepthExceeds(JSON.stringify(Array.from({ length: 5000 }, () => [[1]])), 3)).toBe(false);
  });

  it('handles a 200,000-deep body without recursion', () => {
    expect(jsonDepthExceeds(nested(200_000), 64)).toBe(true);
  });
});

describe('queryError', () => {
  it('names a repeated parameter the route declares', () => {
    const err = queryError({ streamMode: ['debug', 'values'] }, ['streamMode']);
    expect(err?.toEnvelope()).toEqual({
      error: 'validation_error',
      message: 'The query parameter streamMode is given more than once.',
      details: { errors: [{ path: '/streamMode', message: 'repeated' }] },
    });
  });

  it('never echoes an undeclared parameter name', () => {
    const err = queryError({ '<script>': ['a', 'b'] }, ['status']);
    expect(err?.code).toBe('validation_error');
    expect(JSON.stringify(err?.toEnvelope())).not.toContain('script');
  });

  it('refuses control characters in values, naming only declared parameters', () => {
    expect(queryError({ tenant: '\u0000' }, ['tenant'])?.toEnvelope()).toMatchObject({ error: 'validation_error', details: { errors: [{ path: '/tenant' }] } });
    const undeclared = queryError({ zzz: 'a\nb' }, ['tenant']);
    expect(undeclared?.code).toBe('validation_error');
    expect(JSON.stringify(undeclared?.toEnvelope())).not.toContain('zzz');
    expect(queryError({ cursor: 'eyJjIjoiMjAyNi0wMSJ9', workflowId: 'wf é ✓' }, [])).toBeUndefined();
  });

  it('accepts single values and an empty query', () => {
    expect(queryError({ status: 'running', limit: '5' }, ['status', 'limit'])).toBeUndefined();
    expect(queryError(undefined, [])).toBeUndefined();
  });
});

describe('clientErrorAnswer', () => {
  const codeOf = (a: { body: string }): string => (JSON.parse(a.body) as { error: string }).error;

  it('maps header overflow to 431, or 414 when the request line itself is too long', () => {
    const headers = clientErrorAnswer(Object.assign(new Error('x'), { code: 'HPE_HEADER_OVERFLOW', rawPacket: Buffer.from('GET / HTTP/1.1\r\nx-big: aaaa') }));
    expect([headers.status, codeOf(headers)]).toEqual([431, 'header_fields_too_large']);
    const line = clientErrorAnswer(
      Object.assign(new Error('x'), { code: 'HPE_HEADER_OVERFLOW', rawPacket: Buffer.from(`GET /${'a'.repeat(MAX_URL_BYTES + 10)}`) }),
    );
    expect([line.status, codeOf(line)]).toEqual([414, 'uri_too_long']);
  });

  it('maps timeouts to 408 and every other parser error to 400, as the closed envelope', () => {
    const t = clientErrorAnswer(Object.assign(new Error('x'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }));
    expect([t.status, codeOf(t)]).toEqual([408, 'request_timeout']);
    const m = clientErrorAnswer(Object.assign(new Error('x'), { code: 'HPE_INVALID_METHOD' }));
    expect(m.status).toBe(400);
    expect(Object.keys(JSON.parse(m.body) as object).sort()).toEqual(['error', 'message']);
  });
});
