import { describe, expect, it } from 'vitest';
import { Redactor } from './redact.js';
import { TenantRedactors } from './tenant-redactors.js';

// Assembled at runtime so secret scanners do not flag this file.
const VALUE = ['vault', '-value-', 'for-tenant-a-0123456789'].join('');
const HOST_KEY = ['host', '-configured-key-', '0123456789'].join('');

describe('TenantRedactors', () => {
  it("invariant: vault-resolved-redacted — a registered value is scrubbed from its tenant's outputs and the logs, not from other tenants' or the host-wide redactor", () => {
    const host = new Redactor();
    host.addSecret(HOST_KEY);
    const log = host.withSecrets([]);
    const r = new TenantRedactors(host, log);
    r.register('t1', VALUE, 'openai');
    expect(r.for('t1').redactText(`a ${VALUE} b`)).toBe('a [REDACTED:openai] b');
    expect(log.redactText(`a ${VALUE} b`)).toBe('a [REDACTED:openai] b');
    expect(r.for('t2').redactText(`a ${VALUE} b`)).toBe(`a ${VALUE} b`);
    expect(host.redactText(`a ${VALUE} b`)).toBe(`a ${VALUE} b`);
    // Each tenant's redactor still scrubs what the host knows, and credential shapes.
    expect(r.for('t2').redactText(`k=${HOST_KEY}`)).toBe('k=[REDACTED]');
    expect(r.for('t1').redactText(['sk-', 'a'.repeat(30)].join(''))).toBe('[REDACTED]');
    // A run derives its redactor from its tenant's and sees values registered later too.
    const run = r.for('t1').withSecrets([]);
    r.register('t1', `${VALUE}-rotated`, 'openai');
    expect(run.redactText(`${VALUE}-rotated`)).toBe('[REDACTED:openai]');
    // A reference outside the marker alphabet is registered without an id.
    r.register('t3', VALUE, 'bad ref!');
    expect(r.for('t3').redactText(VALUE)).toBe('[REDACTED]');
  });
});
