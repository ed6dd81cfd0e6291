/**
 * `weft webhooks add|list|remove|pause|resume|deliveries|redeliver|listen` — webhook subscriptions through
 * the SDK (`/v1/webhooks`, scope `webhooks:manage`), and a local receiver for development.
 *
 * `add` prints the signing secret once (the host shows only its fingerprint afterwards).
 * `listen` serves `POST /` on a local port, verifies each delivery with the SDK's
 * `verifyWebhook` (signature over the raw bytes, ±300 s window) and prints one line per
 * delivery — 204 when it verifies, 401 otherwise. Its secret is read like a vault value (stdin,
 * `--from-file` or `--from-env`), never from the command line.
 *
 * @see docs/webhooks.md
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook, type Webhook, type WebhookDelivery } from '@weft/sdk';
import type { Command } from 'commander';
import type { CliContext } from '../cli-io.js';
import { clientFor, type GlobalOptions } from '../connection.js';
import { CliError } from '../errors.js';
import { readSecretValue } from './secrets.js';

const list = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const hookLine = (w: Webhook): string =>
  `${w.webhookId}\t${w.state}\t${w.delivery}${w.runId ? `\trun=${w.runId}` : ''}\t${w.url}\t${w.events.join(',')}${w.tags.length > 0 ? `\ttags=${w.tags.join(',')}` : ''}\tsecret ${w.secretFingerprint}…${w.consecutiveFailures > 0 ? `\tfailures=${w.consecutiveFailures}` : ''}${w.circuitOpenUntil ? `\tcircuit open until ${w.circuitOpenUntil}` : ''}`;

const deliveryLine = (d: WebhookDelivery): string =>
  `${d.deliveryId}\t${d.status}\t${d.eventType}\tattempts=${d.attempts}${d.responseStatus !== undefined ? `\tHTTP ${d.responseStatus}` : ''}${d.error ? `\t${d.error}` : ''}\t${d.updatedAt}`;

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Registers the `webhooks` command group. */
export function registerWebhookCommands(program: Command, ctx: CliContext): void {
  const { io } = ctx;
  const print = (text: string): void => io.stdout(`${text}\n`);
  const hooks = program.command('webhooks').description('subscribe receivers to run events (signed deliveries)');

  hooks
    .command('add')
    .description('subscribe a receiver (POST /v1/webhooks); prints the secret once')
    .argument('<url>', 'https:// receiver URL')
    .requiredOption('--events <types>', 'comma-separated event types, e.g. run.completed,run.failed')
    .option('--tags <tags>', 'only runs carrying one of these tags (comma-separated)')
    .option('--durable', 'durable delivery: an outbox row per event, retried, then dead-lettered')
    .option('--idempotency-key <key>', 'Idempotency-Key for a safe retry')
    .action(async (url: string, o: { events: string; tags?: string; durable?: boolean; idempotencyKey?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const created = await clientFor(ctx, g).createWebhook(
        { url, events: list(o.events), ...(o.tags ? { tags: list(o.tags) } : {}), ...(o.durable ? { delivery: 'durable' as const } : {}) },
        o.idempotencyKey === undefined ? {} : { idempotencyKey: o.idempotencyKey },
      );
      if (g.json) return print(JSON.stringify(created));
      print(`subscribed ${created.webhookId} → ${created.url}`);
      print(`secret (shown once; later reads show ${created.secretFingerprint}…): ${created.secret}`);
    });

  hooks
    .command('list')
    .description('list subscriptions (GET /v1/webhooks)')
    .action(async (_o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const { webhooks } = await clientFor(ctx, g).listWebhooks();
      if (g.json) return print(JSON.stringify({ webhooks }));
      print(webhooks.length === 0 ? 'no webhooks' : webhooks.map(hookLine).join('\n'));
    });

  hooks
    .command('remove')
    .description('unsubscribe at once (DELETE /v1/webhooks/{webhookId})')
    .argument('<webhookId>')
    .action(async (webhookId: string, _o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      await clientFor(ctx, g).deleteWebhook(webhookId);
      print(g.json ? JSON.stringify({ webhookId, deleted: true }) : `removed ${webhookId}`);
    });

  for (const verb of ['pause', 'resume'] as const) {
    hooks
      .command(verb)
      .description(
        verb === 'pause'
          ? 'hold a subscription: best-effort events are recorded skipped, durable ones wait (POST /v1/webhooks/{webhookId}:pause)'
          : 'resume a paused subscription; held durable deliveries go out (POST /v1/webhooks/{webhookId}:resume)',
      )
      .argument('<webhookId>')
      .action(async (webhookId: string, _o: unknown, cmd: Command) => {
        const g = cmd.optsWithGlobals<GlobalOptions>();
        const c = clientFor(ctx, g);
        const w = verb === 'pause' ? await c.pauseWebhook(webhookId) : await c.resumeWebhook(webhookId);
        print(g.json ? JSON.stringify(w) : hookLine(w));
      });
  }

  hooks
    .command('deliveries')
    .description('delivery records, newest first (GET /v1/webhooks/{webhookId}/deliveries)')
    .argument('<webhookId>')
    .option('--limit <n>', 'at most this many (1..500)', '50')
    .action(async (webhookId: string, o: { limit: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new CliError('invalid_argument', '--limit must be an integer from 1 to 500');
      const { deliveries } = await clientFor(ctx, g).listWebhookDeliveries(webhookId, { limit });
      if (g.json) return print(JSON.stringify({ deliveries }));
      print(deliveries.length === 0 ? 'no deliveries' : deliveries.map(deliveryLine).join('\n'));
    });

  hooks
    .command('redeliver')
    .description('deliver one recorded event again, now (POST …/deliveries/{deliveryId}:redeliver)')
    .argument('<webhookId>')
    .argument('<deliveryId>', '<runId>.<sequence>, as `deliveries` lists it')
    .action(async (webhookId: string, deliveryId: string, _o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const d = await clientFor(ctx, g).redeliverWebhook(webhookId, deliveryId);
      print(g.json ? JSON.stringify(d) : deliveryLine(d));
    });

  hooks
    .command('listen')
    .description('a local receiver for development: verifies and prints deliveries')
    .option('--host <host>', 'bind address', '127.0.0.1')
    .option('--port <port>', 'port (0: any free port)', '8787')
    .option('--from-file <path>', 'read the subscription secret from a file (default: standard input)')
    .option('--from-env <name>', 'read the subscription secret from an environment variable')
    .option('--tolerance <seconds>', 'accepted clock skew', '300')
    .option('--count <n>', 'exit after this many verified deliveries')
    .action(async (o: { host: string; port: string; fromFile?: string; fromEnv?: string; tolerance: string; count?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const secret = await readSecretValue(ctx, o);
      const toleranceSeconds = Number(o.tolerance);
      const port = Number(o.port);
      const count = o.count === undefined ? undefined : Number(o.count);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError('invalid_argument', '--port must be 0..65535');
      if (!Number.isFinite(toleranceSeconds) || toleranceSeconds < 0) throw new CliError('invalid_argument', '--tolerance must be a number of seconds');
      if (count !== undefined && (!Number.isInteger(count) || count < 1)) throw new CliError('invalid_argument', '--count must be a positive integer');
      let verified = 0;
      await new Promise<void>((resolve, reject) => {
        const server = createServer((req, res) => {
          void (async () => {
            if (req.method !== 'POST') {
              res.writeHead(405).end();
              return;
            }
            const body = await readBody(req, 1_048_576);
            if (!body) {
              res.writeHead(413).end();
              return;
            }
            const v = await verifyWebhook(body, req.headers, secret, { toleranceSeconds });
            if (!v.ok) {
              res.writeHead(401).end();
              print(g.json ? JSON.stringify({ ok: false, reason: v.reason }) : `rejected\t${v.reason}`);
              return;
            }
            res.writeHead(204).end();
            const e = v.body.event as { type?: string; sequence?: number };
            print(
              g.json
                ? JSON.stringify({ ok: true, webhookId: v.webhookId, body: v.body })
                : `ok\t${e.type}\trun=${v.body.runId}\tseq=${e.sequence}\twebhook=${v.webhookId ?? '?'}`,
            );
            verified++;
            if (count !== undefined && verified >= count) {
              server.close(() => resolve());
              server.closeAllConnections();
            }
          })().catch(() => {
            if (!res.headersSent) res.writeHead(500).end();
          });
        });
        server.on('error', reject);
        server.listen(port, o.host, () => {
          const a = server.address() as AddressInfo;
          io.stderr(`listening on http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${a.port}/ (Ctrl-C to stop)\n`);
        });
      });
    });
}
