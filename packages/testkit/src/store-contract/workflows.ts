/**
 * The workflow-store contract: content-addressed definitions, the id → hash map, and the
 * lifecycle (migrate) every store shares.
 */
import { describe, expect, it } from 'vitest';
import type { StoreLifecycle, WorkflowStore } from '@weft/engine';
import { freshStorePerTest, workflow, type PortFactory } from './fixtures.js';

/**
 * Registers the WorkflowStore contract for one implementation; `factory` runs before every test.
 *
 * @see execution-semantics.md §5
 */
export function defineWorkflowStoreContract(name: string, factory: PortFactory<WorkflowStore & StoreLifecycle>): void {
  describe(`WorkflowStore contract: ${name}`, () => {
    let store: WorkflowStore & StoreLifecycle;
    freshStorePerTest(factory, (s) => {
      store = s;
    });

    describe('migrations', () => {
      it('migrate is idempotent and leaves a working store', async () => {
        await store.migrate();
        await store.migrate();
        expect(['memory', 'sqlite', 'postgres']).toContain(store.kind);
        await store.putWorkflow(workflow('wf', 'h1'));
        expect((await store.getWorkflow('wf'))?.hash).toBe('h1');
      });
    });

    describe('workflows', () => {
      it('stores a workflow and reads it by id and by hash', async () => {
        const wf = workflow('wf', 'h1');
        await store.putWorkflow(wf);
        expect(await store.getWorkflow('wf')).toEqual(wf);
        expect(await store.getWorkflowByHash('h1')).toEqual(wf);
        expect(await store.getWorkflow('other')).toBeUndefined();
        expect(await store.getWorkflowByHash('nope')).toBeUndefined();
      });

      it('addresses content by hash: the same hash is stored once, the first copy wins', async () => {
        await store.putWorkflow(workflow('wf', 'h1', '1', 'api'));
        await store.putWorkflow(workflow('wf', 'h1', '1', 'dir:/somewhere'));
        expect((await store.getWorkflowByHash('h1'))?.source).toBe('api');
        expect(await store.listWorkflows()).toHaveLength(1);
      });

      it('a new version moves the id while the old hash stays readable', async () => {
        await store.putWorkflow(workflow('wf', 'h1', '1'));
        await store.putWorkflow(workflow('wf', 'h2', '2'));
        expect((await store.getWorkflow('wf'))?.definition.version).toBe('2');
        expect((await store.getWorkflowByHash('h1'))?.definition.version).toBe('1');
        expect((await store.listWorkflows()).map((w) => w.hash)).toEqual(['h2']);
      });

      it('lists workflows ordered by id', async () => {
        for (const id of ['mid', 'zeta', 'alpha', 'Beta']) await store.putWorkflow(workflow(id, `h-${id}`));
        // Code-point order ('B' < 'a'), not locale order.
        expect((await store.listWorkflows()).map((w) => w.id)).toEqual(['Beta', 'alpha', 'mid', 'zeta']);
      });

      it('delete unmaps the id only; the definition stays readable by hash', async () => {
        await store.putWorkflow(workflow('wf', 'h1'));
        await store.putWorkflow(workflow('keep', 'h-keep'));
        expect(await store.deleteWorkflow('wf')).toBe(true);
        expect(await store.deleteWorkflow('wf')).toBe(false);
        expect(await store.deleteWorkflow('never')).toBe(false);
        expect(await store.getWorkflow('wf')).toBeUndefined();
        expect((await store.getWorkflowByHash('h1'))?.id).toBe('wf');
        expect((await store.listWorkflows()).map((w) => w.id)).toEqual(['keep']);
        // Re-registering the same content maps the id again.
        await store.putWorkflow(workflow('wf', 'h1'));
        expect((await store.getWorkflow('wf'))?.hash).toBe('h1');
      });
    });
  });
}
