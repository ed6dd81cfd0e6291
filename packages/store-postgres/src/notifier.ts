/**
 * The {@link Notifier} on Postgres `LISTEN/NOTIFY`. One dedicated connection listens (a
 * pooled connection cannot: LISTEN is session state); notifications are sent on it too.
 *
 * The connection heals itself: on an error or an unexpected end it is dropped and opened
 * again with backoff, every channel is listened to again, and each handler is then called
 * with `''` ("you may have missed notifications") so callers re-read what they care about.
 * No 'error' event is ever left unhandled.
 */
import pg from 'pg';
import { StoreUnavailableError, type Notifier } from '@weft/engine';

/** Options of {@link PostgresNotifier}. */
export interface PostgresNotifierOptions {
  connectionString: string;
  /** First reconnect delay; doubles up to 2 s. Default 100 ms. */
  reconnectDelayMs?: number;
}

/** Channel names are fixed identifiers of ours; anything else is refused, never quoted. */
const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;

export class PostgresNotifier implements Notifier {
  private readonly handlers = new Map<string, Set<(payload: string) => void>>();
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private delay: number;
  private closed = false;

  constructor(private readonly opts: PostgresNotifierOptions) {
    this.delay = opts.reconnectDelayMs ?? 100;
  }

  async notify(channel: string, payload: string): Promise<void> {
    if (!CHANNEL.test(channel)) throw new Error('invalid notification channel');
    const c = await this.connection();
    try {
      await c.query('SELECT pg_notify($1, $2)', [channel, payload]);
    } catch (err) {
      throw new StoreUnavailableError(err);
    }
  }

  async listen(channel: string, fn: (payload: string) => void): Promise<() => void> {
    if (!CHANNEL.test(channel)) throw new Error('invalid notification channel');
    let set = this.handlers.get(channel);
    const first = !set;
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    set.add(fn);
    if (first) {
      const c = await this.connection();
      await c.query(`LISTEN ${channel}`).catch((err: unknown) => this.drop(c, err));
    }
    return () => {
      this.handlers.get(channel)?.delete(fn);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const c = this.client;
    this.client = undefined;
    this.handlers.clear();
    await c?.end().catch(() => undefined);
  }

  /** The live listening connection, opening it when needed. */
  private connection(): Promise<pg.Client> {
    if (this.closed) return Promise.reject(new StoreUnavailableError(new Error('notifier closed')));
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: this.opts.connectionString, keepAlive: true });
    c.on('error', (err) => this.drop(c, err));
    c.on('end', () => this.drop(c, new Error('connection ended')));
    c.on('notification', (m) => this.dispatch(m.channel, m.payload ?? ''));
    try {
      await c.connect();
      for (const ch of this.handlers.keys()) await c.query(`LISTEN ${ch}`);
    } catch (err) {
      c.removeAllListeners('end');
      await c.end().catch(() => undefined);
      this.scheduleReconnect();
      throw new StoreUnavailableError(err);
    }
    if (this.closed) {
      await c.end().catch(() => undefined);
      throw new StoreUnavailableError(new Error('notifier closed'));
    }
    this.client = c;
    this.delay = this.opts.reconnectDelayMs ?? 100;
    return c;
  }

  /** Forgets a broken connection and reconnects (with backoff) while anyone listens. */
  private drop(c: pg.Client, _err: unknown): void {
    if (this.client !== c) return;
    this.client = undefined;
    c.removeAllListeners('end');
    c.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer || this.handlers.size === 0) return;
    const wait = this.delay;
    this.delay = Math.min(2000, this.delay * 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connection().then(
        // Notifications sent while we were away are lost: tell every handler to re-check.
        () => {
          for (const ch of this.handlers.keys()) this.dispatch(ch, '');
        },
        () => undefined, // open() already scheduled the next attempt
      );
    }, wait);
    this.retryTimer.unref();
  }

  private dispatch(channel: string, payload: string): void {
    for (const fn of [...(this.handlers.get(channel) ?? [])]) {
      try {
        fn(payload);
      } catch {
        // A failing handler must not break the connection or other handlers.
      }
    }
  }
}
