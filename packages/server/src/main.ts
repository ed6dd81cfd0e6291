/**
 * Process entry: `node packages/server/dist/main.js` starts a host from `WEFT_*` variables and
 * stops it cleanly on SIGINT/SIGTERM. (`weft serve` does the same with flags.)
 */
import { loadConfig } from './config.js';
import { startHost } from './host.js';

/** Starts a host from the environment and wires shutdown signals. */
export async function main(): Promise<void> {
  const host = await startHost(loadConfig(process.env));
  const stop = (): void => {
    host.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`weft: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
