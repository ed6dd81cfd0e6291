/**
 * A loopback webhook receiver for process-level tests (kill -9, several processes): it
 * acknowledges (204) or holds requests open, and counts acknowledged deliveries by their dedupe
 * key `webhookId|runId|sequence`.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A receiver that acknowledges (204) or holds requests open, and counts acknowledged keys. */
export interface CountingReceiver {
  url: string;
  allowEntry: string;
  mode: 'ack' | 'hold';
  /** Acknowledged deliveries per `webhookId|runId|sequence`. */
  acked: Map<string, number>;
  /** Requests received (acknowledged or held). */
  seen: number;
  /** Resolves once `pred()` holds (checked on every request), or rejects at the deadline. */
  until(pred: () => boolean, deadlineMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function countingReceiver(): Promise<CountingReceiver> {
  const held: ServerResponse[] = [];
  const waiters = new Set<() => void>();
  const r: CountingReceiver = {
    url: '',
    allowEntry: '',
    mode: 'ack',
    acked: new Map(),
    seen: 0,
    until(pred, deadlineMs = 30_000) {
      return new Promise((resolve, reject) => {
        if (pred()) return resolve();
        const check = (): void => {
          if (!pred()) return;
          waiters.delete(check);
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`receiver condition not met (seen ${r.seen}, acked ${r.acked.size})`));
        }, deadlineMs);
        waiters.add(check);
      });
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((res) => server.close(res));
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.seen++;
      if (r.mode === 'hold') held.push(res);
      else {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { runId: string; event: { sequence: number } };
        const key = `${String(req.headers['x-openwop-webhook-id'])}|${body.runId}|${body.event.sequence}`;
        res.writeHead(204).end();
        r.acked.set(key, (r.acked.get(key) ?? 0) + 1);
      }
      for (const w of [...waiters]) w();
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as AddressInfo).port;
  r.url = `http://127.0.0.1:${port}`;
  r.allowEntry = `127.0.0.1:${port}`;
  return r;
}
