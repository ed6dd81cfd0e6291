/**
 * Store faults become 503 + Retry-After in the closed envelope; other failures stay 500.
 */
import { StoreUnavailableError } from '@weft/engine';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { isStoreUnavailable, sendError } from './errors.js';

/** An error shaped like better-sqlite3's SqliteError. */
const sqliteError = (code: string): Error => Object.assign(new Error('database is locked'), { code });

describe('store fault mapping', () => {
  it('recognises store-unavailable errors and SQLite busy / I/O codes, nothing else', () => {
    expect(isStoreUnavailable(new StoreUnavailableError(new Error('Connection terminated unexpectedly')))).toBe(true);
    expect(isStoreUnavailable(sqliteError('SQLITE_BUSY'))).toBe(true);
    expect(isStoreUnavailable(sqliteError('SQLITE_IOERR_WRITE'))).toBe(true);
    expect(isStoreUnavailable(sqliteError('SQLITE_CONSTRAINT_PRIMARYKEY'))).toBe(false);
    expect(isStoreUnavailable(new Error('boom'))).toBe(false);
    expect(isStoreUnavailable('SQLITE_BUSY')).toBe(false);
  });

  it('invariant: store-fault-503 — answers a store fault with 503, Retry-After and the envelope, without the driver message', async () => {
    const app = Fastify();
    app.setErrorHandler((err, req, reply) => sendError(err, req, reply));
    app.get('/pg', async () => {
      throw new StoreUnavailableError(new Error('terminating connection due to administrator command'));
    });
    app.get('/sqlite', async () => {
      throw sqliteError('SQLITE_BUSY');
    });
    app.get('/bug', async () => {
      throw new Error('a bug');
    });
    try {
      for (const url of ['/pg', '/sqlite']) {
        const r = await app.inject({ method: 'GET', url });
        expect(r.statusCode, url).toBe(503);
        expect(r.headers['retry-after'], url).toBe('1');
        const body = r.json<Record<string, unknown>>();
        expect(Object.keys(body).sort(), url).toEqual(['details', 'error', 'message']);
        expect(body.error, url).toBe('service_unavailable');
        expect(body.details, url).toEqual({ retryAfter: 1 });
        expect(r.body, url).not.toMatch(/administrator|locked|SQLITE/);
      }
      const bug = await app.inject({ method: 'GET', url: '/bug' });
      expect(bug.statusCode).toBe(500);
      expect(bug.json<{ error: string }>().error).toBe('internal_error');
    } finally {
      await app.close();
    }
  });
});
