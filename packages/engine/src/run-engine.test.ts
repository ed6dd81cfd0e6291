import { afterEach, describe, expect, it } from 'vitest';
import type { RunEventDoc, WorkflowDefinition } from '@weft/contract';
import { MemoryStore } from './memory-store.js';
import { BUILTIN_NODES, NodeRegistry, type NodeContext } from './nodes.js';
import { RunEngine } from './run-engine.js';
import type { RecordRedactor, RunRecord } from './ports.js';
import { testWorkflow } from './workflow-builders.test-support.js';

const node = (id: string, typeId = 'core.noop', inputs: Record<string, unknown> = {}, config: Record<string, unknown> = {}) => ({
  id,
  typeId,
  name: id,
  position: { x: 0, y: 0 },
  config,
  inputs,
});
const wf = testWorkflow;

let engine: RunEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

async function setup(defs: WorkflowDefinition[], limits = { maxNodeExecutions: 100, maxRunDurationMs: 60_000 }) {
  const store = new MemoryStore();
  engine = new RunEngine({ store, limits });
  for (const d of defs) await engine.catalog.register(d, 'test');
  await engine.start();
  return { store, engine };
}

/** Waits for the run's terminal event through the bus, with a deadline. */
async function terminal(store: MemoryStore, e: RunEngine, rec: RunRecord, ms = 5000): Promise<RunEventDoc[]> {
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timed out waiting for terminal event')), ms);
    const check = (): void => {
      void store.getRunInternal(rec.runId).then((r) => {
        if (r && ['completed', 'failed', 'cancelled'].includes(r.projection.status)) {
          clearTimeout(t);
          off();
          resolve();
        }
      });
    };
    const off = e.bus.subscribe(rec.runId, check);
    check();
  });
  return (await store.readEvents(rec.runId, -1, 1000)).map((x) => JSON.parse(x.json) as RunEventDoc);
}

const types = (evs: RunEventDoc[]) => evs.map((e) => (e.nodeId ? `${e.type}:${e.nodeId}` : e.type));

describe('RunEngine', () => {
  it('runs a noop workflow to completion with sequences from 0', async () => {
    const { store, engine: e } = await setup([wf('noop', [node('n')])]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'noop' });
    expect(rec.projection.status).toBe('pending');
    const evs = await terminal(store, e, rec);
    expect(types(evs)).toEqual(['run.started', 'node.started:n', 'node.completed:n', 'run.completed']);
    expect(evs.map((x) => x.sequence)).toEqual([0, 1, 2, 3]);
    expect(evs[1]?.payload).toEqual({ nodeId: 'n', typeId: 'core.noop', attempt: 0 });
  });

  it('runs a chain in DAG order and passes variables through identity', async () => {
    const def = wf(
      'chain',
      [node('c'), node('a', 'core.identity', { payload: { type: 'variable', variableName: 'payload' } }), node('b')],
      [
        ['a', 'b'],
        ['b', 'c'],
      ],
      {
        variables: [{ name: 'payload', type: 'object', required: true }],
      } as Partial<WorkflowDefinition>,
    );
    const { store, engine: e } = await setup([def]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'chain', inputs: { payload: { x: 1 } } });
    const evs = await terminal(store, e, rec);
    expect(types(evs).filter((t) => t.startsWith('node.completed'))).toEqual(['node.completed:a', 'node.completed:b', 'node.completed:c']);
    expect(evs.find((x) => x.type === 'node.completed' && x.nodeId === 'a')?.payload).toMatchObject({ outputs: { payload: { x: 1 } } });
  });

  it('rejects missing required inputs and unknown configurable keys', async () => {
    const def = wf('req', [node('n')], [], { variables: [{ name: 'nonce', type: 'string', required: true }] } as Partial<WorkflowDefinition>);
    const { engine: e } = await setup([def]);
    await expect(e.createRun({ tenant: 't', principal: 'p', workflowId: 'req' })).rejects.toMatchObject({ code: 'validation_error' });
    await expect(e.createRun({ tenant: 't', principal: 'p', workflowId: 'req', inputs: { nonce: 'x' }, configurable: { bogus: 1 } })).rejects.toMatchObject({
      code: 'validation_error',
    });
    await expect(e.createRun({ tenant: 't', principal: 'p', workflowId: 'nope' })).rejects.toMatchObject({ code: 'validation_error' });
  });

  it('fails with the node error and emits no more nodes', async () => {
    const { store, engine: e } = await setup([wf('fail', [node('f', 'core.fail'), node('after')], [['f', 'after']])]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'fail' });
    const evs = await terminal(store, e, rec);
    expect(types(evs)).toEqual(['run.started', 'node.started:f', 'node.failed:f', 'node.skipped:after', 'run.failed']);
    expect((evs.at(-1)?.payload as { error: { code: string } }).error.code).toBe('deterministic_fail');
  });

  it('refuses a node whose required capability is missing before node.started', async () => {
    const { store, engine: e } = await setup([wf('cap', [node('n', 'conformance.requiresMissing')])]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'cap' });
    const evs = await terminal(store, e, rec);
    expect(types(evs)).toEqual(['run.started', 'run.failed']);
    expect((evs[1]?.payload as { error: { code: string } }).error.code).toBe('capability_not_provided');
  });

  it('emits cap.breached before the over-limit node starts', async () => {
    const ids = ['n1', 'n2', 'n3', 'n4'];
    const { store, engine: e } = await setup([
      wf(
        'caps',
        ids.map((i) => node(i)),
        [
          ['n1', 'n2'],
          ['n2', 'n3'],
          ['n3', 'n4'],
        ],
      ),
    ]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'caps', configurable: { recursionLimit: 2 } });
    const evs = await terminal(store, e, rec);
    const i = evs.findIndex((x) => x.type === 'cap.breached');
    expect(evs[i]?.payload).toEqual({ kind: 'node-executions', limit: 2, observed: 3, nodeId: 'n3' });
    expect(evs.some((x) => x.type === 'node.started' && x.nodeId === 'n3')).toBe(false);
    expect((evs.at(-1)?.payload as { error: { code: string } }).error.code).toBe('recursion_limit_exceeded');
  });

  it('completes a delay through a durable timer row', async () => {
    const def = wf('delay', [node('w', 'core.delay', { delayMs: { type: 'static', value: 30 } })]);
    const { store, engine: e } = await setup([def]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'delay' });
    const evs = await terminal(store, e, rec);
    expect(types(evs)).toEqual(['run.started', 'node.started:w', 'node.completed:w', 'run.completed']);
    expect(await store.nextTimerAt()).toBeNull();
  });

  it('fails a run past its deadline with run_timeout after cap.breached', async () => {
    const def = wf('slow', [node('w', 'core.delay', { delayMs: { type: 'static', value: 10_000 } })]);
    const { store, engine: e } = await setup([def]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'slow', configurable: { runTimeoutMs: 50 } });
    const evs = await terminal(store, e, rec);
    const cap = evs.find((x) => x.type === 'cap.breached')?.payload as { kind: string; limit: number; observed: number };
    expect(cap.kind).toBe('run-duration');
    expect(cap.observed).toBeGreaterThan(cap.limit);
    expect((evs.at(-1)?.payload as { error: { code: string } }).error.code).toBe('run_timeout');
  });

  it('finishes the parent when the child ends between the node reading it and the wait being registered', async () => {
    // The node's one read of the child returns what it saw before the child ended, and only
    // once the child has ended: the child's end then finds no registered wait to wake.
    class StaleChildRead extends MemoryStore {
      childEnded!: Promise<void>;
      private ended!: () => void;
      private staleDone = false;
      constructor() {
        super();
        this.childEnded = new Promise<void>((r) => (this.ended = r));
      }
      override async appendEvents(...args: Parameters<MemoryStore['appendEvents']>): Promise<void> {
        await super.appendEvents(...args);
        if (args[3].parent && args[2].some((x) => x.type === 'run.completed')) this.ended();
      }
      override async getRunInternal(runId: string): Promise<RunRecord | undefined> {
        const rec = await super.getRunInternal(runId);
        if (!rec?.projection.parent || this.staleDone) return rec;
        this.staleDone = true;
        const seen = structuredClone(rec);
        await this.childEnded;
        return seen;
      }
    }
    const store = new StaleChildRead();
    engine = new RunEngine({ store, limits: { maxNodeExecutions: 100, maxRunDurationMs: 60_000 } });
    await engine.catalog.register(wf('child', [node('c')]), 'test');
    await engine.catalog.register(wf('parent', [node('call', 'core.subWorkflow', {}, { workflowId: 'child' })]), 'test');
    await engine.start();
    const rec = await engine.createRun({ tenant: 't', principal: 'p', workflowId: 'parent' });
    const evs = await terminal(store, engine, rec);
    expect(types(evs).at(-1)).toBe('run.completed');
    expect(evs.find((x) => x.type === 'node.completed' && x.nodeId === 'call')?.payload).toMatchObject({ outputs: { childStatus: 'completed' } });
  });

  it('cancels a sleeping run with node.cancelled then run.cancelled', async () => {
    const def = wf('sleep', [node('w', 'core.delay', { delayMs: { type: 'static', value: 10_000 } })]);
    const { store, engine: e } = await setup([def]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'sleep' });
    await new Promise<void>((resolve) => {
      const off = e.bus.subscribe(rec.runId, (evs) => {
        if (evs.some((x) => x.type === 'node.started')) {
          off();
          resolve();
        }
      });
    });
    const after = await e.cancelRun('t', rec.runId, 'enough', 'p');
    expect(after?.projection.status).toBe('cancelled');
    const evs = await terminal(store, e, rec);
    expect(types(evs).slice(-2)).toEqual(['node.cancelled:w', 'run.cancelled']);
    expect(await e.cancelRun('other-tenant', rec.runId, undefined, 'x')).toBeUndefined();
  });

  it('recovers a run from its log after a restart and finishes it once', async () => {
    const def = wf('rec', [node('w', 'core.delay', { delayMs: { type: 'static', value: 40 } }), node('z')], [['w', 'z']]);
    const { store, engine: e1 } = await setup([def]);
    const rec = await e1.createRun({ tenant: 't', principal: 'p', workflowId: 'rec' });
    await new Promise<void>((resolve) => {
      const off = e1.bus.subscribe(rec.runId, (evs) => {
        if (evs.some((x) => x.type === 'node.started')) {
          off();
          resolve();
        }
      });
    });
    await e1.stop();
    engine = new RunEngine({ store, limits: { maxNodeExecutions: 100, maxRunDurationMs: 60_000 } });
    await engine.start();
    const evs = await terminal(store, engine, rec);
    expect(types(evs)).toEqual(['run.started', 'node.started:w', 'node.completed:w', 'node.started:z', 'node.completed:z', 'run.completed']);
  });
});

/** A stand-in for @weft/security's Redactor: one shape (`SHAPED-…`) plus known values. */
class FakeRedactor implements RecordRedactor {
  constructor(private readonly known: string[] = []) {}
  withSecrets(values: Iterable<string>): RecordRedactor {
    return new FakeRedactor([...this.known, ...values]);
  }
  private text(s: string): string {
    let out = s.replace(/SHAPED-[a-z0-9]+/g, '[REDACTED]');
    for (const k of this.known) out = out.split(k).join('[REDACTED]');
    return out;
  }
  redactJson(json: string): string {
    return this.text(json);
  }
  redact<T>(value: T): T {
    const json = JSON.stringify(value);
    const out = this.text(json);
    return out === json ? value : (JSON.parse(out) as T);
  }
}

describe('RunEngine: redaction at the append boundary', () => {
  it('invariant: secret-leakage-eventlog-payload — scrubs shapes before the run row and every event; nodes see only declared-sensitive values raw', async () => {
    const seen: Record<string, unknown>[] = [];
    const registry = new NodeRegistry([
      ...BUILTIN_NODES,
      {
        typeId: 'test.capture',
        execute: (ctx: NodeContext) => {
          seen.push({ ...ctx.inputs });
          return { outputs: { note: `token=${String(ctx.inputs.token)} plain=${String(ctx.inputs.plain)} made=SHAPED-fromnode1` } };
        },
      },
    ]);
    const store = new MemoryStore();
    engine = new RunEngine({ store, limits: { maxNodeExecutions: 10, maxRunDurationMs: 60_000 }, registry, redactor: new FakeRedactor() });
    const def = wf(
      'capture',
      [node('c', 'test.capture', { token: { type: 'variable', variableName: 'token' }, plain: { type: 'variable', variableName: 'plain' } })],
      [],
      {
        variables: [
          { name: 'token', type: 'string', sensitive: true },
          { name: 'plain', type: 'string' },
        ],
      } as Partial<WorkflowDefinition>,
    );
    await engine.catalog.register(def, 'test');
    await engine.start();
    const rec = await engine.createRun({
      tenant: 't',
      principal: 'p',
      workflowId: 'capture',
      inputs: { token: 'raw-sensitive-value', plain: 'x SHAPED-abc123 y' },
      tags: ['SHAPED-tag1'],
      metadata: { m: 'SHAPED-meta1' },
    });
    const evs = await terminal(store, engine, rec);
    expect(evs.at(-1)?.type).toBe('run.completed');
    expect(seen).toEqual([{ token: 'raw-sensitive-value', plain: 'x [REDACTED] y' }]);
    const row = await store.getRunInternal(rec.runId);
    expect(row?.variables).toEqual({ token: 'raw-sensitive-value', plain: 'x [REDACTED] y' });
    expect(row?.tags).toEqual(['[REDACTED]']);
    expect(row?.metadata).toEqual({ m: '[REDACTED]' });
    const stored = (await store.readEvents(rec.runId, -1, 1000)).map((e) => e.json).join('\n');
    expect(stored).not.toContain('raw-sensitive-value');
    expect(stored).not.toMatch(/SHAPED-/);
    expect(evs.find((e) => e.type === 'node.completed')?.payload).toMatchObject({ outputs: { note: 'token=[REDACTED] plain=x [REDACTED] y made=[REDACTED]' } });
    expect(JSON.stringify(row?.projection)).not.toMatch(/raw-sensitive-value|SHAPED-/);
  });
});
