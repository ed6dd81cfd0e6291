/**
 * Database faults under load: a real host process on a real Postgres database has every one
 * of its backends terminated (`pg_terminate_backend`) several times while clients create
 * runs, long-poll and stream. The process must stay alive, every answer must be a 2xx or a
 * 503 with Retry-After (never a 500, never a dropped socket), the pool must recover, and every
 * accepted run must reach a terminal status afterwards.
 */
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { stopTestDatabases } from './pg.js';
import { createRealTestDatabase, killHost, realPgAdminUrl, SERVER_MAIN, type SpawnedHost, spawnHost } from './spawned-host.js';
import { REPO_ROOT } from './test-host.js';

const KEY = 'pg-fault-test-key-0123456789abcdef';
const ADMIN_URL = realPgAdminUrl();
const auth = { authorization: `Bearer ${KEY}` };

function spawnFaultHost(pgUrl: string): Promise<SpawnedHost> {
  return spawnHost({
    argv: [SERVER_MAIN],
    key: KEY,
    env: {
      WEFT_PORT: '0',
      WEFT_STORE: 'postgres',
      WEFT_PG_URL: pgUrl,
      WEFT_API_KEYS: `faults:${KEY}`,
      WEFT_WORKFLOWS_DIR: join(REPO_ROOT, 'examples', 'workflows'),
      WEFT_LEASE_TTL_MS: '2000',
      WEFT_SSE_KEEPALIVE_MS: '500',
      WEFT_INTERRUPT_TOKEN_KEYS: 'f1:pg-fault-test-interrupt-token-secret-0123456',
    },
  });
}

/** One observed answer: status and Retry-After, or the transport failure. */
interface Outcome {
  what: string;
  status?: number;
  retryAfter?: string | null;
  body?: string;
  failure?: string;
}

async function observe(what: string, url: string, init: RequestInit = {}): Promise<{ outcome: Outcome; res?: Response }> {
  try {
    const res = await fetch(url, {
      ...init,
      headers: { ...auth, ...(init.headers as Record<string, string> | undefined) },
      signal: AbortSignal.timeout(20_000),
    });
    return { outcome: { what, status: res.status, retryAfter: res.headers.get('retry-after') }, res };
  } catch (e) {
    return { outcome: { what, failure: e instanceof Error ? `${e.name}: ${e.message} ${String((e.cause as Error | undefined)?.message ?? '')}` : String(e) } };
  }
}

/** Reads a response body; a stream the server cut mid-body is a failure, one it ended is not. */
async function drain(o: Outcome, res: Response | undefined, deadlineMs = 3_000): Promise<string> {
  if (!res?.body) return '';
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let text = '';
  const timer = setTimeout(() => void reader.cancel('client deadline'), deadlineMs);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += dec.decode(value, { stream: true });
    }
  } catch (e) {
    o.failure = `body: ${e instanceof Error ? e.message : String(e)}`;
  } finally {
    clearTimeout(timer);
  }
  return text;
}

async function terminateBackends(dbName: string): Promise<number> {
  const c = new pg.Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    const { rows } = await c.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()) t',
      [dbName],
    );
    return rows[0]?.n ?? 0;
  } finally {
    await c.end();
  }
}

afterAll(async () => {
  await stopTestDatabases();
});

const acceptable = (o: Outcome): boolean =>
  o.failure === undefined && o.status !== undefined && ((o.status >= 200 && o.status < 300) || (o.status === 503 && /^\d+$/.test(o.retryAfter ?? '')));

describe('Postgres backends terminated under load', () => {
  it('invariant: store-fault-503 — keeps the host alive, answers only 2xx or 503 with Retry-After, and finishes every accepted run', async () => {
    const db = await createRealTestDatabase();
    const dbName = new URL(db.url).pathname.slice(1);
    const p = await spawnFaultHost(db.url);
    const outcomes: Outcome[] = [];
    const accepted: string[] = [];
    let stop = false;
    // Waiting on the load's progress: woken by every recorded answer, bounded by a deadline.
    let progressed: (() => void) | undefined;
    const record = (o: Outcome): void => {
      outcomes.push(o);
      progressed?.();
    };
    const progress = async (done: () => boolean, deadlineMs = 15_000): Promise<void> => {
      const end = Date.now() + deadlineMs;
      while (!done() && Date.now() < end) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.max(0, end - Date.now()));
          progressed = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    };
    try {
      const client = async (n: number): Promise<void> => {
        for (let i = 0; !stop; i++) {
          const created = await observe('create', `${p.url}/v1/runs`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ workflowId: i % 2 === 0 ? 'weft-hello' : 'weft-sleep', inputs: i % 2 === 0 ? {} : { delayMs: 100 } }),
          });
          const text = await drain(created.outcome, created.res);
          record(created.outcome);
          if (created.outcome.status !== 201) continue;
          const runId = (JSON.parse(text) as { runId: string }).runId;
          accepted.push(runId);
          const watch =
            n % 2 === 0
              ? await observe('poll', `${p.url}/v1/runs/${runId}/events/poll?timeout=1`)
              : await observe('sse', `${p.url}/v1/runs/${runId}/events`, { headers: { accept: 'text/event-stream' } });
          await drain(watch.outcome, watch.res);
          record(watch.outcome);
          const read = await observe('get', `${p.url}/v1/runs/${runId}`);
          await drain(read.outcome, read.res);
          record(read.outcome);
        }
      };
      const clients = Array.from({ length: 6 }, (_, n) => client(n));

      // Kill every backend of the host several times, each once the load has moved on.
      let kills = 0;
      for (let round = 0; round < 5; round++) {
        const seen = outcomes.length;
        await progress(() => outcomes.length >= seen + 15);
        kills += await terminateBackends(dbName);
      }
      const seen = outcomes.length;
      await progress(() => outcomes.slice(seen).filter((o) => o.status !== undefined && o.status < 300).length >= 10);
      stop = true;
      await Promise.all(clients);

      expect(kills).toBeGreaterThan(0);
      expect(p.child.exitCode, p.stderr()).toBeNull();
      const bad = outcomes.filter((o) => !acceptable(o));
      expect(bad, p.stderr()).toEqual([]);
      // The pool recovered: the host kept accepting work after the last fault.
      expect(outcomes.slice(seen).some((o) => o.what === 'create' && o.status === 201)).toBe(true);
      expect(accepted.length).toBeGreaterThan(0);

      // Every accepted run reaches a terminal status (retrying 503s, long-polling otherwise).
      for (const runId of accepted) {
        const end = Date.now() + 30_000;
        let status = '';
        while (Date.now() < end) {
          const r = await fetch(`${p.url}/v1/runs/${runId}/events/poll?timeout=2&lastSequence=-1`, { headers: auth });
          if (r.status === 200) {
            const b = (await r.json()) as { isTerminal: boolean; runStatus: string };
            status = b.runStatus;
            if (b.isTerminal) break;
          } else {
            expect(r.status).toBe(503);
            await r.text();
          }
        }
        expect(['completed', 'failed', 'cancelled'], `${runId} ended ${status}`).toContain(status);
      }
      expect(p.child.exitCode).toBeNull();
    } finally {
      stop = true;
      await killHost(p);
      await db.drop();
    }
  }, 120_000);
});
