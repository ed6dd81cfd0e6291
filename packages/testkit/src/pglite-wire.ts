/**
 * Serves one in-process PGlite over the Postgres wire protocol on a loopback TCP port, for
 * tests, so `pg` pools (several connections each) can use it like a server.
 *
 * PGlite is a single backend session, so every connection shares it, and the server's one
 * job is to keep the connections from interleaving inside each other's work. It forwards
 * whole *exchanges* — a simple Query, or an extended-protocol run of Parse/Bind/Describe/
 * Execute up to its Sync — under one lock, and keeps holding the lock while that connection
 * is inside an explicit transaction. (Forwarding message by message, as a generic socket
 * adapter does, lets connection B's messages land inside A's exchange — worst after a failed
 * statement, when the backend skips every message up to the next Sync, whoever sent it: A then
 * reads B's rows or error, or fails with `portal "" does not exist`, and an error can arrive
 * when a connection has no query pending — an unhandled client 'error' in the test process.)
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';

const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;

/** Frontend messages that end an exchange: Sync, simple Query, and FunctionCall. */
const ENDS_EXCHANGE = new Set(['S', 'Q', 'F']);

/** A FIFO lock: one connection at a time talks to the PGlite session. */
class Lock {
  private tail: Promise<void> = Promise.resolve();

  /** Resolves with the release function once every earlier holder released. */
  acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => next);
    return ready;
  }
}

/** A PGlite served over TCP; see the module comment. */
export class PgliteWireServer {
  private readonly lock = new Lock();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private port = 0;

  constructor(private readonly db: PGlite) {}

  /** `host:port` to put in a connection URL. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Listens on a free loopback port. */
  async start(): Promise<void> {
    const server = createServer((socket) => this.serve(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
  }

  /**
   * Runs `fn` on the session between connections' exchanges and transactions (for the test
   * helper's own statements, such as creating a schema), never inside one.
   */
  async exclusive<T>(fn: (db: PGlite) => Promise<T>): Promise<T> {
    const release = await this.lock.acquire();
    try {
      return await fn(this.db);
    } finally {
      release();
    }
  }

  /** Closes every connection and stops listening. */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let buffer: Buffer = Buffer.alloc(0);
    let started = false;
    let pending: Buffer[] = [];
    let release: (() => void) | undefined;
    let chain: Promise<void> = Promise.resolve();
    let closed = false;

    /** Runs one batch under the lock; keeps the lock while the exchange or a transaction is open. */
    const run = async (batch: Buffer[], complete: boolean): Promise<void> => {
      release ??= await this.lock.acquire();
      if (closed) return;
      const out: Uint8Array[] = [];
      await this.db.runExclusive(async () => {
        for (const m of batch) out.push(await this.db.execProtocolRaw(new Uint8Array(m.buffer, m.byteOffset, m.byteLength)));
      });
      if (!socket.destroyed) for (const o of out) if (o.length > 0) socket.write(o);
      if (complete && !this.db.isInTransaction()) {
        release();
        release = undefined;
      }
    };
    const enqueue = (batch: Buffer[], complete: boolean): void => {
      chain = chain
        .then(() => run(batch, complete))
        .catch(() => {
          socket.destroy();
        });
    };

    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      for (;;) {
        if (!started) {
          if (buffer.length < 8) return;
          const len = buffer.readInt32BE(0);
          if (buffer.length < len) return;
          const code = buffer.readInt32BE(4);
          const msg = buffer.subarray(0, len);
          buffer = buffer.subarray(len);
          if (code === SSL_REQUEST) {
            socket.write('N');
            continue;
          }
          if (code === CANCEL_REQUEST || code !== PROTOCOL_3) {
            socket.destroy();
            return;
          }
          started = true;
          enqueue([Buffer.from(msg)], true);
          continue;
        }
        if (buffer.length < 5) return;
        const len = 1 + buffer.readInt32BE(1);
        if (buffer.length < len) return;
        const type = String.fromCharCode(buffer[0] as number);
        const msg = Buffer.from(buffer.subarray(0, len));
        buffer = buffer.subarray(len);
        if (type === 'X') {
          socket.end();
          return;
        }
        pending.push(msg);
        // Flush asks for the output so far; the exchange (and the lock) stays open until Sync.
        if (ENDS_EXCHANGE.has(type) || type === 'H') {
          enqueue(pending, type !== 'H');
          pending = [];
        }
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      closed = true;
      this.sockets.delete(socket);
      // A connection that vanished inside a transaction must not leave it open for the next.
      chain = chain.then(async () => {
        if (!release) return;
        if (this.db.isInTransaction()) await this.db.exec('ROLLBACK').catch(() => undefined);
        release();
        release = undefined;
      });
    });
  }
}
