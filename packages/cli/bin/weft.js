#!/usr/bin/env node
/**
 * The `weft` executable as npm links it. It is committed (not built) so that the link exists
 * right after the first `npm install`, whose `prepare` step builds `dist/` only after npm has
 * linked the bins. It loads the compiled CLI, or says how to build it when `dist/` is missing.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/bin.js', import.meta.url);

if (existsSync(fileURLToPath(entry))) {
  await import(entry.href);
} else {
  process.stderr.write(
    'weft: the CLI is not built yet (packages/cli/dist/bin.js is missing).\n' +
      'Run `npm run build` (or `npx tsc -b`) at the repository root, then try again.\n',
  );
  process.exitCode = 1;
}
