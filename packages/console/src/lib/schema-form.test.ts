import { describe, expect, it } from 'vitest';
import { fieldsOf, readFields, variablesSchema } from './schema-form.ts';

describe('schema forms', () => {
  it('turns object properties into fields of the right kind', () => {
    const fields = fieldsOf({
      type: 'object',
      required: ['action', 'count'],
      properties: {
        action: { enum: ['accept', 'reject'] },
        comment: { type: 'string', maxLength: 4096, description: 'Why' },
        name: { type: 'string', maxLength: 64, default: 'Ada' },
        count: { type: 'integer' },
        ratio: { type: 'number' },
        ok: { type: 'boolean', default: true },
        blob: {},
        token: { type: 'string', writeOnly: true, maxLength: 100 },
      },
    });
    expect(fields.map((f) => [f.name, f.kind, f.required])).toEqual([
      ['action', 'enum', true],
      ['comment', 'textarea', false],
      ['name', 'text', false],
      ['count', 'integer', true],
      ['ratio', 'number', false],
      ['ok', 'boolean', false],
      ['blob', 'json', false],
      ['token', 'password', false],
    ]);
    expect(fields.find((f) => f.name === 'name')?.initial).toBe('Ada');
    expect(fields.find((f) => f.name === 'ok')?.initial).toBe('true');
    expect(fields.find((f) => f.name === 'comment')?.description).toBe('Why');
    expect(fieldsOf({ type: 'object', properties: { a: {}, b: {} } }, ['a']).map((f) => f.name)).toEqual(['b']);
    expect(fieldsOf(undefined)).toEqual([]);
  });

  it('reads the inputs back into a value, leaving empty optional fields out', () => {
    const fields = fieldsOf({
      type: 'object',
      required: ['n'],
      properties: { n: { type: 'integer' }, s: { type: 'string' }, e: { enum: [1, 'two'] }, j: { type: 'object' }, b: { type: 'boolean' } },
    });
    expect(readFields(fields, { n: '3', s: '', e: '1', j: '{"k":[1]}', b: 'true' })).toEqual({ ok: true, value: { n: 3, e: 1, j: { k: [1] }, b: true } });
    expect(readFields(fields, { n: '', j: '{' })).toEqual({ ok: false, errors: { n: 'n is required.', j: 'j must be JSON.' } });
    expect(readFields(fields, { n: '1.5' })).toEqual({ ok: false, errors: { n: 'n must be an integer.' } });
  });

  it("builds a workflow's input schema from its variables", () => {
    const schema = variablesSchema([
      { name: 'greeting', type: 'string', defaultValue: 'hello', description: 'Text' },
      { name: 'delayMs', type: 'number', required: true },
      { name: 'token', type: 'string', sensitive: true },
    ]);
    expect(schema).toEqual({
      type: 'object',
      required: ['delayMs'],
      properties: {
        greeting: { type: 'string', maxLength: 256, description: 'Text', default: 'hello' },
        delayMs: { type: 'number' },
        token: { type: 'string', maxLength: 256, writeOnly: true },
      },
    });
    expect(fieldsOf(schema).map((f) => f.kind)).toEqual(['text', 'number', 'password']);
  });
});
