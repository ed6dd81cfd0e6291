/**
 * Process entry: `node packages/server/dist/main.js` starts a host from `WEFT_*` variables and
 * stops it cleanly on SIGINT/SIGTERM, within `WEFT_SHUTDOWN_TIMEOUT_MS`; a second signal exits
 * at once with status 1. (`weft serve` does the same with flags.)
 */
import { loadConfig } from './config.js';
import { startHost } from './host.js';

/** Starts a host from the environment and wires shutdown signals. */
export async function main(): Promise<void> {
  const host = await startHost(loadConfig(process.env));
  let stopping = false;
  const stop = (): void => {
    // A second signal while draining: stop now.
    if (stopping) process.exit(1);
    stopping = true;
    host.close().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`weft: shutdown failed: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // A fatal error is logged as one line too; the exit handler flushes the asynchronous log
  // destination synchronously, so that line and every one before it are written.
  process.on('uncaughtException', (e: unknown) => {
    host.logger.fatal({ err: e instanceof Error ? { name: e.name, message: e.message, stack: e.stack } : String(e) }, 'uncaught exception');
    process.stderr.write(`weft: fatal: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`weft: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
