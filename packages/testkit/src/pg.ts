/**
 * Throwaway Postgres databases for tests, so Postgres-backed tests always run instead of
 * skipping when no server is configured.
 *
 * - `WEFT_TEST_PG_URL` set (e.g. `postgres://postgres@127.0.0.1:5432/postgres`): a real
 *   `CREATE DATABASE weft_test_<random>` on that server; `drop` terminates its connections
 *   and drops it.
 * - Otherwise: in-process Postgres (PGlite, WASM) served over a loopback socket by
 *   {@link PgliteWireServer}. PGlite is one database and one backend session multiplexed over every
 *   socket: `CREATE DATABASE` succeeds but connections always land in `postgres`, startup
 *   options (`?options=-c search_path=…`) are ignored, and session state such as
 *   `search_path` or prepared-statement names is shared by all connections. So each test
 *   database is a schema selected with a session-wide `SET search_path`, which isolates
 *   only one live database per PGlite instance. One instance is started lazily and reused
 *   for every database created after the previous one was dropped; only when a caller holds
 *   several databases at once is another instance started (each costs ~2 s and a few hundred
 *   MB, so they are kept and reused too).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import { PgliteWireServer } from './pglite-wire.js';

/** A database that exists until `drop` is called. */
export interface TestDatabase {
  /** Connection URL for `pg` / `PostgresStore`. */
  url: string;
  /** Removes the database. Idempotent. Close pools that use it first. */
  drop: () => Promise<void>;
}

/**
 * Creates an empty, uniquely named database: on the server of `WEFT_TEST_PG_URL` when set,
 * otherwise in an in-process PGlite.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = process.env.WEFT_TEST_PG_URL;
  return adminUrl ? createOnServer(adminUrl) : createOnPglite();
}

/** Stops the in-process PGlite servers (a script that used them can then exit). */
export async function stopTestDatabases(): Promise<void> {
  const all = hosts.splice(0);
  await Promise.all(
    all.map(async (slot) => {
      const host = await slot.host.catch(() => undefined);
      if (!host) return;
      await host.server.stop();
      await host.db.close();
    }),
  );
}

function newName(): string {
  // Lower-case hex only: the name needs no quoting as an identifier.
  return `weft_test_${randomBytes(6).toString('hex')}`;
}

async function withAdmin<T>(adminUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function createOnServer(adminUrl: string): Promise<TestDatabase> {
  const name = newName();
  await withAdmin(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await withAdmin(adminUrl, async (c) => {
        // A pool someone forgot to close would otherwise make DROP DATABASE fail.
        await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
        await c.query(`DROP DATABASE IF EXISTS ${name}`);
      });
    },
  };
}

interface PgliteHost {
  db: PGlite;
  server: PgliteWireServer;
  /** `host:port` of the socket server. */
  address: string;
}

interface HostSlot {
  host: Promise<PgliteHost>;
  /** Holds a live test database; its session's search_path belongs to that database. */
  inUse: boolean;
}

const hosts: HostSlot[] = [];

async function startHost(): Promise<PgliteHost> {
  // Imported on demand so the real-server path never loads the WASM build.
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create();
  // Port 0: the OS picks a free loopback port. Several pools may point at one database; the
  // server runs each connection's exchanges and transactions whole, one connection at a time.
  const server = new PgliteWireServer(db);
  await server.start();
  return { db, server, address: server.address };
}

function acquireSlot(): HostSlot {
  // Synchronous on purpose: two concurrent callers must never pick the same idle slot.
  let slot = hosts.find((s) => !s.inUse);
  if (!slot) {
    slot = { host: startHost(), inUse: false };
    hosts.push(slot);
  }
  slot.inUse = true;
  return slot;
}

async function createOnPglite(): Promise<TestDatabase> {
  const slot = acquireSlot();
  let host: PgliteHost;
  try {
    host = await slot.host;
  } catch (err) {
    hosts.splice(hosts.indexOf(slot), 1);
    throw err;
  }
  const name = newName();
  // Session-wide SET: every connection shares PGlite's single session, so this is what
  // points the store's pool at the new schema (the URL's startup option is not honoured).
  await host.server.exclusive((db) => db.exec(`CREATE SCHEMA ${name}; SET search_path TO ${name}`));
  const options = encodeURIComponent(`-c search_path=${name}`);
  let dropped = false;
  return {
    // The options parameter documents the schema and would select it on a real server.
    url: `postgres://postgres@${host.address}/postgres?options=${options}`,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await host.server.exclusive((db) => db.exec(`SET search_path TO public; DROP SCHEMA IF EXISTS ${name} CASCADE`));
      slot.inUse = false;
    },
  };
}
