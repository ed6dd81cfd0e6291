import { describe, expect, it } from 'vitest';
import { WeftApiError, WeftConnectionError } from '@weft/sdk';
import { CliError, formatErrorLine } from './errors.js';
import { serveEnvironment, serveSecrets } from './commands/serve.js';

describe('formatErrorLine', () => {
  it('prints the wire code of SDK errors and the code of CLI errors', () => {
    expect(formatErrorLine(new WeftApiError({ status: 404, code: 'not_found', message: 'Run not found.' }))).toBe('error: not_found: Run not found.');
    expect(formatErrorLine(new WeftConnectionError('GET /v1/runs/x', 'GET /v1/runs/x failed: fetch failed (ECONNREFUSED)'))).toBe(
      'error: connection_failed: GET /v1/runs/x failed: fetch failed (ECONNREFUSED)',
    );
    expect(formatErrorLine(new CliError('invalid_argument', '--limit must be a positive integer'))).toBe(
      'error: invalid_argument: --limit must be a positive integer',
    );
  });

  it('quotes the first validation errors of details.errors', () => {
    const errors = [
      { path: '/resumeValue/answers/n', message: 'does not match the question schema' },
      { path: '', message: 'bare' },
      { path: '/a', message: 'x' },
      { path: '/b', message: 'y' },
    ];
    expect(
      formatErrorLine(new WeftApiError({ status: 400, code: 'validation_error', message: 'The clarification answers are invalid.', details: { errors } })),
    ).toBe(
      'error: validation_error: The clarification answers are invalid. (/resumeValue/answers/n: does not match the question schema; bare; /a: x; +1 more)',
    );
    expect(formatErrorLine(new WeftApiError({ status: 400, code: 'validation_error', message: 'Bad.', details: { errors: 'nope' } }))).toBe(
      'error: validation_error: Bad.',
    );
  });

  it('falls back to internal_error and keeps the line single', () => {
    expect(formatErrorLine(new Error('first\n  second'))).toBe('error: internal_error: first second');
    expect(formatErrorLine('thrown string')).toBe('error: internal_error: thrown string');
  });

  it('redacts every known secret', () => {
    // Client-side guard (not a registered host invariant): the CLI never prints the key.
    const key = 'sk-live-abcdefghijklmnop';
    expect(formatErrorLine(new Error(`bad key ${key} (${key})`), [key])).toBe('error: internal_error: bad key *** (***)');
  });
});

describe('serve flags', () => {
  it('lays flags over the WEFT_* environment, flags winning', () => {
    const env = serveEnvironment(
      { port: '0', store: 'memory', workflowsDir: 'a:b', apiKeys: 't1:0123456789abcdef' },
      { WEFT_PORT: '3737', WEFT_HOST: '0.0.0.0', WEFT_STORE: 'sqlite', PATH: '/bin' },
    );
    expect(env).toMatchObject({
      WEFT_PORT: '0',
      WEFT_HOST: '0.0.0.0',
      WEFT_STORE: 'memory',
      WEFT_WORKFLOWS_DIR: 'a:b',
      WEFT_API_KEYS: 't1:0123456789abcdef',
      PATH: '/bin',
    });
    expect(env.WEFT_PG_URL).toBeUndefined();
  });

  it('collects the API keys and the Postgres password for redaction', () => {
    const secrets = serveSecrets({ WEFT_API_KEYS: 'a:key-one-0123456789, b:key:two', WEFT_PG_URL: 'postgres://weft:p%40ss@db:5432/weft' });
    expect(secrets).toEqual(['key-one-0123456789', 'key:two', 'postgres://weft:p%40ss@db:5432/weft', 'p@ss']);
  });

  it('collects the operator key for redaction and maps --operator-key to WEFT_OPERATOR_KEY', () => {
    const op = 'operator-key-0123456789abcdef-0123456789';
    expect(serveSecrets({ WEFT_OPERATOR_KEY: ` ${op} ` })).toEqual([op]);
    expect(serveEnvironment({ operatorKey: op }, {})).toMatchObject({ WEFT_OPERATOR_KEY: op });
  });
});
