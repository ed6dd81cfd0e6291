import { describe, expect, it } from 'vitest';
import { createRunBody } from './commands/runs.js';
import { CliError } from './errors.js';
import { buildObject, collect, parseAnswers, parseAssignment, parseInputValue, parseJsonObject, parseJsonValue, parsePositiveInt } from './input-parsing.js';

describe('parseInputValue', () => {
  it('parses JSON scalars, objects and arrays', () => {
    expect(parseInputValue('42')).toBe(42);
    expect(parseInputValue('-1.5')).toBe(-1.5);
    expect(parseInputValue('true')).toBe(true);
    expect(parseInputValue('false')).toBe(false);
    expect(parseInputValue('null')).toBeNull();
    expect(parseInputValue('{"a":[1,"x"]}')).toEqual({ a: [1, 'x'] });
    expect(parseInputValue('[1,2]')).toEqual([1, 2]);
    expect(parseInputValue('"007"')).toBe('007');
  });

  it('keeps anything that is not JSON as the raw string', () => {
    expect(parseInputValue('hello')).toBe('hello');
    expect(parseInputValue('hello world')).toBe('hello world');
    expect(parseInputValue('')).toBe('');
    expect(parseInputValue('{not json')).toBe('{not json');
    expect(parseInputValue('TRUE')).toBe('TRUE');
    expect(parseInputValue('1.2.3')).toBe('1.2.3');
  });

  it('keeps numbers JSON cannot carry as strings', () => {
    expect(parseInputValue('1e999')).toBe('1e999');
  });
});

describe('parseAssignment', () => {
  it('splits at the first = and parses the value', () => {
    expect(parseAssignment('n=3')).toEqual(['n', 3]);
    expect(parseAssignment('expr=a=b')).toEqual(['expr', 'a=b']);
    expect(parseAssignment('empty=')).toEqual(['empty', '']);
    expect(parseAssignment('obj={"k":true}')).toEqual(['obj', { k: true }]);
  });

  it('rejects a missing key or missing =', () => {
    expect(() => parseAssignment('novalue')).toThrow(CliError);
    expect(() => parseAssignment('=1', '--config')).toThrow(/--config expects key=value/);
  });
});

describe('buildObject', () => {
  it('returns undefined when nothing was given', () => {
    expect(buildObject([], undefined, '--input', '--inputs-json')).toBeUndefined();
    expect(buildObject(undefined, undefined, '--input', '--inputs-json')).toBeUndefined();
  });

  it('merges a JSON base with assignments, assignments winning', () => {
    expect(buildObject(['b=2', 'c=x'], '{"a":1,"b":1}', '--input', '--inputs-json')).toEqual({ a: 1, b: 2, c: 'x' });
  });

  it('requires the JSON base to be an object', () => {
    expect(() => parseJsonObject('[1]', '--inputs-json')).toThrow(/must be a JSON object/);
    expect(() => parseJsonObject('{', '--inputs-json')).toThrow(/--inputs-json is not valid JSON/);
    expect(() => parseJsonObject('null', '--inputs-json')).toThrow(CliError);
  });
});

describe('collect and parsePositiveInt', () => {
  it('accumulates repeated option values', () => {
    expect(collect('b', collect('a', []))).toEqual(['a', 'b']);
  });

  it('accepts positive integers only', () => {
    expect(parsePositiveInt('25', '--limit')).toBe(25);
    for (const bad of ['0', '-1', '1.5', 'ten', '']) expect(() => parsePositiveInt(bad, '--limit')).toThrow(/--limit must be a positive integer/);
  });
});

describe('createRunBody', () => {
  it('builds the POST /v1/runs body from the start flags', () => {
    expect(createRunBody('wf', { input: ['n=1', 'name=Ada'], inputsJson: '{"flag":false}', config: ['mockProvider="echo"'], tag: ['a', 'b'] })).toEqual({
      workflowId: 'wf',
      inputs: { flag: false, n: 1, name: 'Ada' },
      configurable: { mockProvider: 'echo' },
      tags: ['a', 'b'],
    });
  });

  it('leaves out fields that were not given', () => {
    expect(createRunBody('wf', { input: [], config: [], tag: [] })).toEqual({ workflowId: 'wf' });
  });
});

describe('parseAnswers', () => {
  it('keeps --answer text as strings, split at the first =', () => {
    expect(parseAnswers(['q1=blue', 'q2=42', 'q3=a=b', 'q4='], undefined)).toEqual({ q1: 'blue', q2: '42', q3: 'a=b', q4: '' });
  });

  it('takes typed answers from --answers-json; --answer entries win', () => {
    expect(parseAnswers(['q1=red'], '{"q1":"blue","q2":3}')).toEqual({ q1: 'red', q2: 3 });
  });

  it('rejects malformed entries and an empty answer set', () => {
    expect(() => parseAnswers(['=x'], undefined)).toThrow('--answer expects questionId=answer, got "=x"');
    expect(() => parseAnswers(['novalue'], undefined)).toThrow(CliError);
    expect(() => parseAnswers([], undefined)).toThrow(/at least one --answer/);
    expect(() => parseAnswers(undefined, '[1]')).toThrow('--answers-json must be a JSON object');
  });
});

describe('parseJsonValue', () => {
  it('accepts any JSON value and names the flag on failure', () => {
    expect(parseJsonValue('{"action":"refine"}', '--value')).toEqual({ action: 'refine' });
    expect(parseJsonValue('"text"', '--value')).toBe('text');
    expect(parseJsonValue('null', '--value')).toBeNull();
    expect(() => parseJsonValue('{oops', '--value')).toThrow(/^--value is not valid JSON/);
  });
});
