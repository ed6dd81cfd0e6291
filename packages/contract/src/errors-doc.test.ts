import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOG, WeftError, isErrorCode } from './errors.js';
import { renderErrorsMarkdown } from './errors-doc.js';

describe('error catalog', () => {
  it('docs/errors.md is generated from the catalog and up to date', () => {
    const committed = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    expect(committed).toBe(renderErrorsMarkdown());
  });

  it('every code is snake_case with a 4xx/5xx status or run-level 0', () => {
    for (const [code, spec] of Object.entries(ERROR_CATALOG)) {
      expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect(spec.status === 0 || (spec.status >= 400 && spec.status < 600)).toBe(true);
    }
  });

  it('WeftError renders the closed envelope and omits empty details', () => {
    expect(new WeftError('not_found', 'gone').toEnvelope()).toEqual({ error: 'not_found', message: 'gone' });
    expect(new WeftError('forbidden', 'no', { scopeRequired: 'runs:read' }).toEnvelope()).toEqual({
      error: 'forbidden',
      message: 'no',
      details: { scopeRequired: 'runs:read' },
    });
    expect(new WeftError('recursion_limit_exceeded', 'x').status).toBe(500);
    expect(isErrorCode('validation_error')).toBe(true);
    expect(isErrorCode('made_up')).toBe(false);
  });
});
