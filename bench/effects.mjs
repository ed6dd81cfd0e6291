#!/usr/bin/env node
/**
 * Cost of one Layer-2 effect (claim + record in the invocation log) on the embedded SQLite store
 * (a benchmark, not a test: it prints, never fails). Runs the same one-node workflow in-process,
 * serially, with 0 and with N trivial effects per node, and reports the difference per effect.
 *
 *   npx tsc -b && node bench/effects.mjs [--runs 2000] [--effects 10]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeRegistry, RunEngine } from '../packages/engine/dist/index.js';
import { SqliteStore } from '../packages/store-sqlite/dist/index.js';

const arg = (name, d) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const RUNS = arg('runs', 2000);
const EFFECTS = arg('effects', 10);

const wf = (id, n) => ({
  id,
  name: id,
  version: '1',
  nodes: [{ id: 'n', typeId: 'bench.effects', name: 'n', position: { x: 0, y: 0 }, config: { n }, inputs: {} }],
  edges: [],
  triggers: [{ id: 'manual', type: 'manual', enabled: true }],
  variables: [],
  metadata: {},
  settings: {},
});

async function measure(n) {
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-effects-'));
  const store = new SqliteStore({ path: join(dir, 'weft.db') });
  await store.migrate();
  const registry = new NodeRegistry();
  registry.register({
    typeId: 'bench.effects',
    execute: async (ctx) => {
      let last = 0;
      for (let i = 0; i < ctx.config.n; i++) last = (await ctx.effect('bench:noop', async () => ({ i }))).i;
      return { outputs: { last } };
    },
  });
  const engine = new RunEngine({ store, registry, limits: { maxNodeExecutions: 100, maxRunDurationMs: 60_000 } });
  await engine.catalog.register(wf(`bench-${n}`, n), 'bench');
  await engine.start();
  const once = async () => {
    const rec = await engine.createRun({ tenant: 't', principal: 'p', workflowId: `bench-${n}` });
    await new Promise((resolve) => {
      const off = engine.bus.subscribe(rec.runId, (evs) => {
        if (evs.some((e) => e.type === 'run.completed' || e.type === 'run.failed')) {
          off();
          resolve();
        }
      });
    });
  };
  for (let i = 0; i < 200; i++) await once(); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < RUNS; i++) await once();
  const ms = (performance.now() - t0) / RUNS;
  await engine.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

const base = await measure(0);
const withEffects = await measure(EFFECTS);
console.log(
  `SQLite, ${RUNS} serial runs: ${base.toFixed(3)} ms/run without effects, ${withEffects.toFixed(3)} ms/run with ${EFFECTS} effects → ${((withEffects - base) / EFFECTS).toFixed(3)} ms per effect (claim + record)`,
);
