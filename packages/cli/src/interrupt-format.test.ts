import pc from 'picocolors';
import { describe, expect, it } from 'vitest';
import type { RunEventDoc } from '@weft/contract';
import type { InterruptView } from '@weft/sdk';
import {
  answerCommands,
  createInterruptWatcher,
  formatAge,
  formatDuration,
  formatInterruptDetails,
  formatInterruptPrompt,
  formatInterruptTable,
  formatResolveResult,
  formatRunControlResult,
  infoFromView,
  interruptSummary,
  resumeValueShape,
  shellQuote,
} from './interrupt-format.js';

const plain = pc.createColors(false);
const NOW = Date.parse('2026-01-01T01:00:00.000Z');

const ev = (sequence: number, type: string, payload: unknown, nodeId?: string): RunEventDoc => ({
  eventId: `r1-${sequence}`,
  runId: 'r1',
  type,
  payload,
  timestamp: '2026-01-01T00:00:00.000Z',
  sequence,
  ...(nodeId ? { nodeId } : {}),
});

const approvalData = { title: 'Ship the release?', description: 'Check the diff\nfirst.', actions: ['accept', 'reject'], requiredApprovals: 1 };
const clarificationData = {
  questions: [
    { id: 'q1', question: 'Which colour?' },
    { id: 'q2', question: 'How many?' },
  ],
};

const view = (over: Partial<InterruptView> = {}): InterruptView => ({
  runId: 'r1',
  nodeId: 'gate',
  interruptId: 'int_1',
  kind: 'approval',
  key: 'gate',
  data: approvalData,
  status: 'pending',
  requestedAt: '2026-01-01T00:55:00.000Z',
  ...over,
});

describe('shellQuote and formatAge', () => {
  it('quotes only values a shell would split or expand', () => {
    expect(shellQuote('run-1_a.b:c')).toBe('run-1_a.b:c');
    expect(shellQuote('my node')).toBe("'my node'");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('{"a":1}')).toBe(`'{"a":1}'`);
    expect(shellQuote('$HOME')).toBe("'$HOME'");
  });

  it('renders ages in the largest whole unit', () => {
    expect([0, 59_999, 60_000, 3_599_999, 3_600_000, 47 * 3_600_000, 48 * 3_600_000, -5].map(formatAge)).toEqual([
      '0s',
      '59s',
      '1m',
      '59m',
      '1h',
      '47h',
      '2d',
      '0s',
    ]);
    expect([0, 800, 1000, 90_000].map(formatDuration)).toEqual(['0ms', '800ms', '1s', '1m']);
  });
});

describe('interruptSummary', () => {
  it('summarizes each kind in one short line', () => {
    expect(interruptSummary('approval', approvalData)).toBe('Ship the release?');
    expect(interruptSummary('approval', { ...approvalData, requiredApprovals: 3 })).toBe('Ship the release? (3 approvals required)');
    expect(interruptSummary('clarification', clarificationData)).toBe('Which colour? (+1 more)');
    expect(interruptSummary('clarification', { questions: [{ id: 'q1', question: 'Only one?' }] })).toBe('Only one?');
    expect(interruptSummary('external-event', { eventType: 'order.paid', correlation: { orderId: '42' } })).toBe('waiting for order.paid {"orderId":"42"}');
    expect(interruptSummary('custom', { a: 1, b: 'x' })).toBe('a=1 b=x');
    expect(interruptSummary('approval', undefined)).toBe('');
  });

  it('cuts long summaries', () => {
    const s = interruptSummary('approval', { title: 'x'.repeat(100), actions: ['accept'] }, 20);
    expect(s).toHaveLength(20);
    expect(s.endsWith('…')).toBe(true);
  });
});

describe('answerCommands and resumeValueShape', () => {
  it('names one command per approval action', () => {
    expect(answerCommands({ runId: 'r1', nodeId: 'gate', kind: 'approval', data: { title: 't', actions: ['accept', 'reject', 'refine', 'ask'] } })).toEqual([
      'weft interrupts approve r1 gate [--comment <text>]',
      'weft interrupts reject r1 gate [--comment <text>]',
      `weft interrupts resolve r1 gate --value '{"action":"refine","feedback":"<text>"}'`,
      `weft interrupts resolve r1 gate --value '{"action":"ask","comment":"<text>"}'`,
    ]);
    expect(answerCommands({ runId: 'r1', nodeId: 'my gate', kind: 'approval' })).toEqual([
      "weft interrupts approve r1 'my gate' [--comment <text>]",
      "weft interrupts reject r1 'my gate' [--comment <text>]",
    ]);
  });

  it('offers only the decisions the resume schema accepts, and maps the edit alias', () => {
    const resumeSchema = { type: 'object', properties: { action: { enum: ['accept', 'reject', 'edit-accept', 'edit'] } } };
    expect(answerCommands({ runId: 'r1', nodeId: 'g', kind: 'approval', data: { title: 't', actions: ['accept', 'edit', 'ask'] }, resumeSchema })).toEqual([
      'weft interrupts approve r1 g [--comment <text>]',
      `weft interrupts resolve r1 g --value '{"action":"edit-accept","editedArtifactData":<json>}'`,
    ]);
    expect(resumeValueShape({ kind: 'approval', data: { actions: ['accept', 'edit-accept'] } })).toBe(
      '{"action": accept|edit-accept, "comment"?: string, "editedArtifactData"?: any}',
    );
  });

  it('uses --answers-json when a question expects a typed answer', () => {
    const data = {
      questions: [
        { id: 'colour', question: 'Which?' },
        { id: 'n', question: 'How many?', schema: { type: 'integer' } },
      ],
    };
    expect(answerCommands({ runId: 'r1', nodeId: 'ask', kind: 'clarification', data })).toEqual([
      `weft interrupts answer r1 ask --answers-json '{"colour":"<answer>","n":<integer>}'`,
    ]);
    expect(formatInterruptPrompt({ runId: 'r1', nodeId: 'ask', kind: 'clarification', data }, plain)).toContain('        n: How many? (integer)');
  });

  it('lists every question of a clarification, or points at show without data', () => {
    expect(answerCommands({ runId: 'r1', nodeId: 'ask', kind: 'clarification', data: clarificationData })).toEqual([
      "weft interrupts answer r1 ask --answer 'q1=<answer>' --answer 'q2=<answer>'",
    ]);
    expect(answerCommands({ runId: 'r1', nodeId: 'ask', kind: 'clarification' })).toEqual([
      'weft interrupts show r1 ask',
      'weft interrupts answer r1 ask --answer <questionId>=<answer>',
    ]);
  });

  it('prefills the correlation of an external event and falls back to a raw value', () => {
    expect(answerCommands({ runId: 'r1', nodeId: 'wait', kind: 'external-event', data: { eventType: 'order.paid', correlation: { orderId: '42' } } })).toEqual([
      `weft interrupts resolve r1 wait --value '{"orderId":"42"}'`,
    ]);
    expect(answerCommands({ runId: 'r1', nodeId: 'c', kind: 'custom', data: {} })).toEqual([`weft interrupts resolve r1 c --value '<json>'`]);
  });

  it('describes the resume value of each kind', () => {
    expect(resumeValueShape({ kind: 'approval', data: approvalData })).toBe('{"action": accept|reject, "comment"?: string}');
    expect(resumeValueShape({ kind: 'clarification', data: clarificationData })).toBe('{"answers": {"q1": <answer>, "q2": <answer>}}');
    expect(resumeValueShape({ kind: 'external-event', data: { eventType: 'e', correlation: { k: 1 } } })).toBe('the event object; it must carry {"k":1}');
    expect(resumeValueShape({ kind: 'custom', resumeSchema: { type: 'object' } })).toBe('any JSON value matching the resume schema');
  });
});

describe('formatInterruptPrompt', () => {
  it('shows an approval with its title, actions and answer commands', () => {
    expect(
      formatInterruptPrompt(
        { runId: 'r1', nodeId: 'gate', kind: 'approval', data: { ...approvalData, requiredApprovals: 2 }, timeoutMs: 300_000 },
        plain,
      ).split('\n'),
    ).toEqual([
      '      approval needed at node gate (run r1): Ship the release?',
      '        Check the diff first.',
      '        actions: accept, reject; 2 approvals required; times out after 5m',
      '        answer with:',
      '          weft interrupts approve r1 gate [--comment <text>]',
      '          weft interrupts reject r1 gate [--comment <text>]',
      '        still watching: the run goes on once it is answered',
    ]);
  });

  it('shows the artifact under review and leaves the approval schema to the commands', () => {
    const text = formatInterruptPrompt(
      {
        runId: 'r1',
        nodeId: 'g',
        kind: 'approval',
        data: { title: 'Publish?', artifactData: 'Hello world', actions: ['accept'] },
        resumeSchema: { type: 'object' },
      },
      plain,
    );
    expect(text).toContain('        artifact: "Hello world"\n        actions: accept\n');
    expect(text).not.toContain('resume schema');
  });

  it('lists the questions of a clarification', () => {
    expect(formatInterruptPrompt({ runId: 'r1', nodeId: 'ask', kind: 'clarification', data: clarificationData }, plain).split('\n')).toEqual([
      '      clarification needed at node ask (run r1)',
      '        q1: Which colour?',
      '        q2: How many?',
      '        answer with:',
      "          weft interrupts answer r1 ask --answer 'q1=<answer>' --answer 'q2=<answer>'",
      '        still watching: the run goes on once it is answered',
    ]);
  });

  it('shows an external event with its correlation, and a custom interrupt with its schema', () => {
    const ext = formatInterruptPrompt(
      { runId: 'r1', nodeId: 'wait', kind: 'external-event', data: { eventType: 'order.paid', correlation: { orderId: '42' } } },
      plain,
    );
    expect(ext).toContain('waiting for an external event at node wait (run r1): order.paid');
    expect(ext).toContain('correlation: {"orderId":"42"}');
    expect(ext).toContain(`deliver it with:\n          weft interrupts resolve r1 wait --value '{"orderId":"42"}'`);
    const custom = formatInterruptPrompt({ runId: 'r1', nodeId: 'c', kind: 'custom', data: { hint: 'x' }, resumeSchema: { type: 'number' } }, plain);
    expect(custom).toContain('custom interrupt at node c (run r1)');
    expect(custom).toContain('data: hint=x');
    expect(custom).toContain('resume schema: {"type":"number"}');
  });
});

describe('createInterruptWatcher', () => {
  it('prompts once for node.suspended followed by interrupt.requested', () => {
    const w = createInterruptWatcher();
    expect(w.push(ev(1, 'node.started', { typeId: 'core.approval' }, 'gate'))).toEqual([]);
    expect(w.push(ev(2, 'node.suspended', { nodeId: 'gate', interruptId: 'int_1', kind: 'approval', key: 'gate' }, 'gate'))).toEqual([]);
    expect(w.holding).toBe(true);
    const prompts = w.push(ev(3, 'interrupt.requested', { kind: 'approval', key: 'gate', data: approvalData, timeoutMs: 1000 }, 'gate'));
    expect(prompts).toEqual([
      {
        runId: 'r1',
        nodeId: 'gate',
        kind: 'approval',
        data: approvalData,
        interruptId: 'int_1',
        key: 'gate',
        timeoutMs: 1000,
        requestedAt: '2026-01-01T00:00:00.000Z',
      },
    ]);
    expect(w.holding).toBe(false);
    expect(w.push(ev(4, 'approval.requested', { nodeId: 'gate', title: 't' }, 'gate'))).toEqual([]);
  });

  it('prompts a bare node.suspended when something else comes first, or on flush', () => {
    const w = createInterruptWatcher();
    w.push(ev(2, 'node.suspended', { nodeId: 'ask', interruptId: 'int_2', kind: 'clarification', key: 'ask' }, 'ask'));
    expect(w.push(ev(3, 'run.annotated', {}))).toEqual([
      { runId: 'r1', nodeId: 'ask', kind: 'clarification', interruptId: 'int_2', key: 'ask', requestedAt: '2026-01-01T00:00:00.000Z' },
    ]);
    w.push(ev(4, 'node.suspended', { kind: 'custom' }, 'c'));
    expect(w.flush().map((i) => i.nodeId)).toEqual(['c']);
    expect(w.flush()).toEqual([]);
  });

  it('drops a held suspension once its node moved on', () => {
    const w = createInterruptWatcher();
    w.push(ev(2, 'node.suspended', { kind: 'approval' }, 'gate'));
    expect(w.push(ev(3, 'interrupt.resolved', { nodeId: 'gate', outcome: 'accepted' }, 'gate'))).toEqual([]);
    expect(w.holding).toBe(false);
  });
});

describe('formatInterruptTable', () => {
  it('shows run, node, kind, age and a summary', () => {
    const list = [view(), view({ runId: 'r2', nodeId: 'ask', kind: 'clarification', data: clarificationData, requestedAt: '2026-01-01T00:59:30.000Z' })];
    expect(formatInterruptTable(list, NOW)).toBe(
      [
        'RUN  NODE  KIND           AGE  SUMMARY',
        'r1   gate  approval       5m   Ship the release?',
        'r2   ask   clarification  30s  Which colour? (+1 more)',
      ].join('\n'),
    );
    expect(formatInterruptTable([], NOW)).toBe('no pending interrupts');
  });

  it('adds the status and outcome of settled interrupts for one run', () => {
    const list = [
      view({ status: 'resolved', outcome: 'accepted' }),
      view({ nodeId: 'late', status: 'expired', outcome: 'expired', data: { title: 'Late', actions: ['accept'] } }),
    ];
    expect(formatInterruptTable(list, NOW, { withStatus: true })).toBe(
      [
        'RUN  NODE  KIND      STATUS               AGE  SUMMARY',
        'r1   gate  approval  resolved (accepted)  5m   Ship the release?',
        'r1   late  approval  expired (expired)    5m   Late',
      ].join('\n'),
    );
    expect(formatInterruptTable([], NOW, { withStatus: true })).toBe('no interrupts');
  });
});

describe('formatInterruptDetails', () => {
  it('shows an approval with votes, schema, commands and the callback token', () => {
    const v = view({
      data: { ...approvalData, requiredApprovals: 2, rejectionPolicy: 'majority' },
      votes: [{ principal: 'alice', action: 'accept', at: 't' }],
      resumeSchema: { type: 'object' },
      expiresAt: '2026-01-01T02:00:00.000Z',
    });
    const info = infoFromView(v, {
      kind: 'approval',
      nodeId: 'gate',
      interruptId: 'int_1',
      key: 'gate',
      payload: {},
      requestedAt: 't',
      interruptToken: 'tok/1',
      tokenExpiresAt: '2026-01-02T00:00:00.000Z',
    });
    expect(formatInterruptDetails(info, plain, NOW, 'http://h:1').split('\n')).toEqual([
      'interrupt     int_1',
      'run           r1',
      'node          gate',
      'kind          approval',
      'key           gate',
      'status        pending',
      'requested     2026-01-01T00:55:00.000Z (5m ago)',
      'expires       2026-01-01T02:00:00.000Z',
      'title         Ship the release?',
      'description   Check the diff first.',
      'actions       accept, reject',
      'approvals     1 of 2 (rejection policy majority)',
      'votes         alice accept',
      'resume value  {"action": accept|reject, "comment"?: string}',
      'resume schema',
      '  {',
      '    "type": "object"',
      '  }',
      'answer with',
      '  weft interrupts approve r1 gate [--comment <text>]',
      '  weft interrupts reject r1 gate [--comment <text>]',
      'callback token (valid until 2026-01-02T00:00:00.000Z)',
      '  tok/1',
      '  anyone holding it can answer without an API key:',
      `  curl -X POST http://h:1/v1/interrupts/tok%2F1 -H 'content-type: application/json' -d '{"resumeValue": …}'`,
    ]);
  });

  it('lists clarification questions and leaves out the token of another interrupt', () => {
    const v = view({ nodeId: 'ask', interruptId: 'int_2', kind: 'clarification', data: clarificationData });
    const text = formatInterruptDetails(
      infoFromView(v, { kind: 'approval', nodeId: 'gate', interruptId: 'int_1', key: 'g', payload: {}, requestedAt: 't', interruptToken: 'other' }),
      plain,
      NOW,
    );
    expect(text).toContain('questions\n  q1: Which colour?\n  q2: How many?');
    expect(text).toContain("answer with\n  weft interrupts answer r1 ask --answer 'q1=<answer>' --answer 'q2=<answer>'");
    expect(text).not.toContain('other');
  });

  it('shows no answer commands for a settled interrupt', () => {
    const text = formatInterruptDetails(infoFromView(view({ status: 'resolved', outcome: 'rejected', resolvedAt: '2026-01-01T00:58:00.000Z' })), plain, NOW);
    expect(text).toContain('status        resolved (rejected)');
    expect(text).toContain('resolved      2026-01-01T00:58:00.000Z');
    expect(text).not.toContain('answer with');
  });
});

describe('answer and run-control outcomes', () => {
  it('reports the outcome, or the quorum progress of a vote', () => {
    expect(
      formatResolveResult({ runId: 'r1', nodeId: 'gate', interruptId: 'i', status: 'running', interrupt: { kind: 'approval', outcome: 'accepted' } }, plain),
    ).toBe('run r1 node gate: accepted; run running');
    expect(formatResolveResult({ runId: 'r1', nodeId: 'x', interruptId: 'i', status: 'running' }, plain)).toBe('run r1 node x: resolved; run running');
    expect(
      formatResolveResult(
        {
          runId: 'r1',
          nodeId: 'gate',
          interruptId: 'i',
          status: 'waiting-approval',
          interrupt: { kind: 'approval', outcome: 'pending', votes: { granted: 1, rejected: 1, required: 3 } },
        },
        plain,
      ),
    ).toBe('run r1 node gate: vote recorded, 1 of 3 approvals, 1 rejected; run waiting-approval');
  });

  it('reports pause and resume', () => {
    expect(formatRunControlResult({ runId: 'r1', status: 'paused', pausedAt: 'p' })).toBe('run r1 paused at p');
    expect(formatRunControlResult({ runId: 'r1', status: 'running', resumedAt: 'q' })).toBe('run r1 running (resumed at q)');
  });
});
