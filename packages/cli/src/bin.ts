#!/usr/bin/env node
/** The `weft` executable. `process.exitCode` (not `exit()`) lets piped output drain first. */
import { processIo } from './cli-io.js';
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv.slice(2), processIo());
