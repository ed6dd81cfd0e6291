/**
 * `weft conformance` — runs the black-box suite of `@weft/conformance` against a host by
 * spawning vitest with `WEFT_TEST_BASE_URL`/`WEFT_TEST_API_KEY`, then prints a per-profile
 * summary of its JSON report. The key travels in the child's environment, never on its command
 * line. The suite checks what the host emits against the official schemas, so it needs the
 * contracts directory (`WEFT_CONTRACTS_DIR`, default `../shared/contracts` beside the repository).
 *
 * @see wire-contract.md §6
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { CliContext, CliIo } from '../cli-io.js';
import { formatSummary, isVitestJsonReport, summarizeReport } from '../conformance-report.js';
import { resolveConnection, type GlobalOptions } from '../connection.js';
import { CliError } from '../errors.js';

const VITEST_ENTRY = join('node_modules', 'vitest', 'vitest.mjs');

/**
 * Finds the monorepo root by walking up from `start` (`packages/cli/dist` or `…/src`) to the
 * first directory holding both vitest and the conformance package.
 */
export function findRepoRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, VITEST_ENTRY)) && existsSync(join(dir, 'packages', 'conformance'))) return dir;
    if (dirname(dir) === dir)
      throw new CliError('suite_not_found', 'cannot find the Weft repository (with node_modules/vitest and packages/conformance) above the CLI');
  }
}

/**
 * The official contracts directory the suite reads: `WEFT_CONTRACTS_DIR` (relative paths are
 * taken from the repository root, like `npm test` does), else `../shared/contracts` beside it.
 */
export function contractsDir(root: string, env: NodeJS.ProcessEnv): string {
  return resolve(root, env.WEFT_CONTRACTS_DIR || join('..', 'shared', 'contracts'));
}

/** Throws a clear error unless `dir` holds the official schemas and conformance fixtures. */
export function requireContracts(dir: string): void {
  const missing = ['schemas', 'conformance-fixtures'].filter((d) => !existsSync(join(dir, d)));
  if (missing.length > 0) {
    throw new CliError(
      'contracts_not_found',
      `the official OpenWOP contracts are not at ${dir} (missing ${missing.join(', ')}); set WEFT_CONTRACTS_DIR to the directory holding schemas/ and conformance-fixtures/`,
    );
  }
}

/** The vitest arguments for one conformance run. */
export function vitestArgs(root: string, reportFile: string, filter?: string): string[] {
  const args = [join(root, VITEST_ENTRY), 'run', '--project', 'conformance-memory', '--reporter=json', `--outputFile=${reportFile}`];
  if (filter) args.push('--testNamePattern', filter);
  return args;
}

/** Runs vitest; its output goes to our stderr so stdout carries only the summary. */
function runVitest(root: string, args: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => io.stderr(chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => io.stderr(chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** Registers `weft conformance`. */
export function registerConformanceCommand(program: Command, ctx: CliContext): void {
  program
    .command('conformance')
    .description('run the OpenWOP conformance suite against a host and print a per-profile summary')
    .option('--filter <pattern>', 'only scenarios whose full name matches this pattern (vitest --testNamePattern)')
    .action(async (opts: { filter?: string }, cmd: Command) => {
      const { io } = ctx;
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const conn = resolveConnection(g, io.env);
      if (!conn.apiKey) throw new CliError('missing_api_key', 'conformance needs --api-key (or OPENWOP_API_KEY / WEFT_API_KEY)');
      ctx.secrets.add(conn.apiKey);
      const root = findRepoRoot(dirname(fileURLToPath(import.meta.url)));
      const contracts = contractsDir(root, io.env);
      requireContracts(contracts);
      const dir = await mkdtemp(join(tmpdir(), 'weft-conformance-'));
      try {
        const reportFile = join(dir, 'report.json');
        io.stderr(`running the conformance suite against ${conn.baseUrl}\n`);
        const env: NodeJS.ProcessEnv = { ...io.env, WEFT_TEST_BASE_URL: conn.baseUrl, WEFT_TEST_API_KEY: conn.apiKey, WEFT_CONTRACTS_DIR: contracts };
        const code = await runVitest(root, vitestArgs(root, reportFile, opts.filter), env, io);
        let report: unknown;
        try {
          report = JSON.parse(await readFile(reportFile, 'utf8'));
        } catch {
          throw new CliError('conformance_not_run', `vitest exited with status ${code} without writing a readable report`);
        }
        if (!isVitestJsonReport(report)) throw new CliError('conformance_not_run', 'the vitest report has an unexpected shape');
        const summary = summarizeReport(report);
        io.stdout(`${g.json ? JSON.stringify(summary) : formatSummary(summary)}\n`);
        if (summary.ok && code !== 0) io.stderr(`error: conformance_run_failed: vitest exited with status ${code} although no test failed\n`);
        ctx.exitCode = summary.ok && code === 0 ? 0 : 1;
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
}
