import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore, RunEngine } from '@weft/engine';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadWorkflowDirs } from './workflow-loader.js';

const node = (id: string, typeId: string, config: Record<string, unknown> = {}) => ({ id, typeId, name: id, position: { x: 0, y: 0 }, config, inputs: {} });
const def = (id: string, nodes: unknown[], extra: Record<string, unknown> = {}) => ({
  id,
  name: id,
  version: '1.0',
  nodes,
  edges: [],
  triggers: [{ id: 'manual', type: 'manual', enabled: true }],
  variables: [],
  metadata: {},
  settings: { timeout: 1000 },
  ...extra,
});

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dirWith(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-loader-'));
  dirs.push(dir);
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), typeof body === 'string' ? body : JSON.stringify(body));
  return dir;
}

describe('loadWorkflowDirs', () => {
  it('loads good workflows and reports each skipped file with a structured reason', async () => {
    const engine = new RunEngine({ store: new MemoryStore(), limits: { maxNodeExecutions: 100, maxRunDurationMs: 60_000 } });
    const dir = dirWith({
      'a-good.json': def('good', [node('n', 'core.noop')]),
      'b-broken.json': '{ not json',
      'c-unknown.json': def('unknown', [node('n', 'core.noop'), node('m', 'vendor.acme.nope'), node('o', 'vendor.acme.nope')]),
      'd-comp.json': def('comp', [node('n', 'core.noop')], { settings: { compensation: { profileVersion: '1' } } }),
      'e-schema.json': { id: 'schema-bad' },
      'f-dispatch-loop.json': {
        ...def('loop', [node('sup', 'core.orchestrator.supervisor'), node('disp', 'core.dispatch')]),
        edges: [
          { id: 'a', sourceNodeId: 'sup', targetNodeId: 'disp' },
          { id: 'b', sourceNodeId: 'disp', targetNodeId: 'sup' },
        ],
      },
      'g-cycle.json': {
        ...def('cycle', [node('x', 'core.noop'), node('y', 'core.noop')]),
        edges: [
          { id: 'a', sourceNodeId: 'x', targetNodeId: 'y' },
          { id: 'b', sourceNodeId: 'y', targetNodeId: 'x' },
        ],
      },
    });
    const missing = join(dir, 'nope');
    const r = await loadWorkflowDirs(engine, [dir, missing], pino({ level: 'silent' }));
    expect(r.loaded).toEqual(['good', 'loop']);
    expect(r.unreadableDirs).toEqual([{ dir: missing, reason: 'not found' }]);
    const byFile = Object.fromEntries(r.skipped.map((s) => [s.file.slice(dir.length + 1), s]));
    expect(Object.keys(byFile).sort()).toEqual(['b-broken.json', 'c-unknown.json', 'd-comp.json', 'e-schema.json', 'g-cycle.json']);
    expect(byFile['b-broken.json']).toMatchObject({ reason: 'invalid-json' });
    expect(byFile['c-unknown.json']).toMatchObject({ reason: 'unknown-node-types', code: 'workflow_invalid', unknownTypes: ['vendor.acme.nope'] });
    expect(byFile['d-comp.json']).toMatchObject({ reason: 'capability-required', code: 'capability_required', requiredCapability: 'compensation' });
    expect(byFile['e-schema.json']).toMatchObject({ reason: 'invalid', code: 'workflow_invalid' });
    expect(byFile['g-cycle.json']).toMatchObject({ reason: 'invalid', code: 'workflow_invalid' });
    // The supervisor ↔ dispatch loop is not a cycle: its back-edge is inert (decision 0026).
    await expect(engine.createRun({ tenant: 't', principal: 'p', workflowId: 'loop' })).resolves.toMatchObject({ workflowId: 'loop' });
  });
});
