/**
 * What the per-port store contract suites share: the fixture shape, the per-test fresh store,
 * and (re-exported) the record builders of records.ts.
 */
import { afterEach, beforeEach } from 'vitest';

export * from './records.js';

/** What a contract factory hands a suite for one test. */
export interface PortFixture<S> {
  /** A migrated store over an empty database, implementing (at least) the port under test. */
  store: S;
  /** Closes the store and removes its database. */
  cleanup: () => Promise<void>;
}

/** Makes a fresh {@link PortFixture} per test. */
export type PortFactory<S> = () => Promise<PortFixture<S>>;

/**
 * Registers hooks that open a fresh store before every test (handing it to `use`) and clean
 * it up after. Generous hook timeouts: the first PGlite start in a process takes seconds.
 */
export function freshStorePerTest<S>(factory: PortFactory<S>, use: (store: S) => void): void {
  let cleanup: (() => Promise<void>) | undefined;
  beforeEach(async () => {
    const fixture = await factory();
    use(fixture.store);
    cleanup = fixture.cleanup;
  }, 60_000);
  afterEach(async () => {
    const done = cleanup;
    cleanup = undefined;
    await done?.();
  }, 60_000);
}
