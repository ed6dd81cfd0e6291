#!/usr/bin/env node
/**
 * Orchestration overhead per multi-agent turn (decision 0026): host CPU and wall time of one
 * supervisor → dispatch turn that runs one worker as a child run, in-process (engine +
 * in-memory store, no HTTP). A turn is two node executions in the parent (supervisor decides,
 * dispatch starts the child, waits, harvests, loops back) plus the child run itself (one
 * `core.identity` node). Compared with a plain run of one `core.noop` node, the cheapest run.
 *
 * Needs `npx tsc -b` first. Usage: node bench/dispatch.mjs [--runs 50] [--turns 10]
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { MemoryStore, RunEngine } from '@weft/engine';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '50' }, turns: { type: 'string', default: '10' } } });
const RUNS = Number(args.runs);
const TURNS = Number(args.turns);

const node = (id, typeId, config = {}) => ({ id, typeId, name: id, position: { x: 0, y: 0 }, config, inputs: {} });
const wf = (id, nodes, edges = [], variables = []) => ({
  id,
  name: id,
  version: '1',
  nodes,
  edges: edges.map(([s, t], i) => ({ id: `e${i}`, sourceNodeId: s, targetNodeId: t })),
  triggers: [{ id: 'manual', type: 'manual', enabled: true }],
  variables,
  metadata: {},
  settings: {},
});
const worker = wf('bench-worker', [node('w', 'core.identity')], [], [{ name: 'out', type: 'string', defaultValue: 'x' }]);
const team = wf(
  'bench-team',
  [
    node('sup', 'core.orchestrator.supervisor', { plan: Array.from({ length: TURNS }, () => ({ kind: 'next-worker', nextWorkerIds: ['bench-worker'] })) }),
    node('disp', 'core.dispatch', { outputMapping: { got: 'out' } }),
  ],
  [
    ['sup', 'disp'],
    ['disp', 'sup'],
  ],
  [{ name: 'got', type: 'string', defaultValue: '' }],
);
const noop = wf('bench-noop', [node('n', 'core.noop')]);

const store = new MemoryStore();
const engine = new RunEngine({ store, limits: { maxNodeExecutions: 10_000, maxRunDurationMs: 3_600_000 } });
for (const d of [worker, team, noop]) await engine.catalog.register(d, 'bench');
await engine.start();

async function one(workflowId) {
  const rec = await engine.createRun({ tenant: 't', principal: 'p', workflowId });
  await new Promise((resolve, reject) => {
    const done = () =>
      store.getRunInternal(rec.runId).then((r) => {
        if (!['completed', 'failed', 'cancelled'].includes(r.projection.status)) return;
        off();
        if (r.projection.status !== 'completed') reject(new Error(`run ${r.projection.status}: ${JSON.stringify(r.projection.error)}`));
        else resolve();
      });
    const off = engine.bus.subscribe(rec.runId, () => void done());
    void done();
  });
}

async function measure(workflowId) {
  for (let i = 0; i < Math.min(5, RUNS); i++) await one(workflowId); // warm-up
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < RUNS; i++) await one(workflowId);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs: wall };
}

const base = await measure('bench-noop');
const t = await measure('bench-team');
await engine.stop();
const turns = RUNS * (TURNS + 1); // TURNS next-worker turns + the final terminate turn
process.stdout.write(
  `${JSON.stringify(
    {
      runs: RUNS,
      turnsPerRun: TURNS + 1,
      node: process.version,
      cpuMsPerTurn: +(t.cpuMs / turns).toFixed(3),
      wallMsPerTurn: +(t.wallMs / turns).toFixed(3),
      cpuMsPerNoopRun: +(base.cpuMs / RUNS).toFixed(3),
      wallMsPerNoopRun: +(base.wallMs / RUNS).toFixed(3),
    },
    null,
    2,
  )}\n`,
);
