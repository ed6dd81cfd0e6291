/**
 * The CLI's only link to the process: output streams, environment, colour, and the network.
 * Commands receive it instead of touching `process` so they can run in tests.
 */
import pc from 'picocolors';

/** Colour formatters (all identity functions when colour is off). */
export type Colors = ReturnType<typeof pc.createColors>;

/** What a CLI invocation may touch. */
export interface CliIo {
  /** Writes text to standard output as is. */
  stdout(text: string): void;
  /** Writes text to standard error as is. */
  stderr(text: string): void;
  env: NodeJS.ProcessEnv;
  /** Colour the human output (stdout is a TTY and `NO_COLOR` is unset). */
  color: boolean;
  /** Replaces the global `fetch` for the SDK client. */
  fetch?: typeof fetch;
  /** Clock for relative times such as interrupt ages (default `Date.now`). */
  now?: () => number;
  /** Reads all of standard input (secret values; never taken from argv). */
  readStdin?: () => Promise<string>;
}

/** Mutable state of one invocation, shared by the commands. */
export interface CliContext {
  io: CliIo;
  /** Exit status the invocation ends with (commands raise it; errors set 1). */
  exitCode: number;
  /** Credentials seen during the invocation, redacted from every error line. */
  secrets: Set<string>;
}

/** The real process: `process.stdout/stderr`, `process.env`, colour when stdout is a TTY. */
export function processIo(): CliIo {
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    env: process.env,
    color: process.stdout.isTTY === true && !process.env.NO_COLOR,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}

/** Colour formatters for the invocation, honouring `--no-color`. */
export function colorsFor(io: CliIo, enabled = true): Colors {
  return pc.createColors(io.color && enabled);
}
