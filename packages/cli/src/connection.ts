/**
 * Which host and credential a command talks to: `--base-url`/`--api-key`, then
 * `OPENWOP_BASE_URL`/`OPENWOP_API_KEY`, then `WEFT_BASE_URL`/`WEFT_API_KEY`, then the local
 * default host.
 */
import { DEFAULT_BASE_URL, WeftClient } from '@weft/sdk';
import type { CliContext } from './cli-io.js';

/** Options every command inherits from the program. */
export interface GlobalOptions {
  baseUrl?: string;
  apiKey?: string;
  json?: boolean;
  color?: boolean;
}

/** A resolved host and credential. */
export interface Connection {
  baseUrl: string;
  apiKey?: string;
}

/** Resolves the connection; empty values count as unset. */
export function resolveConnection(opts: GlobalOptions, env: NodeJS.ProcessEnv): Connection {
  const baseUrl = opts.baseUrl || env.OPENWOP_BASE_URL || env.WEFT_BASE_URL || DEFAULT_BASE_URL;
  const apiKey = opts.apiKey || env.OPENWOP_API_KEY || env.WEFT_API_KEY || undefined;
  return apiKey ? { baseUrl, apiKey } : { baseUrl };
}

/** Builds the SDK client for a command and records its key for redaction. */
export function clientFor(ctx: CliContext, opts: GlobalOptions): WeftClient {
  const conn = resolveConnection(opts, ctx.io.env);
  if (conn.apiKey) ctx.secrets.add(conn.apiKey);
  return new WeftClient({
    ...conn,
    userAgent: `weft-cli/${CLI_VERSION}`,
    ...(ctx.io.fetch ? { fetch: ctx.io.fetch } : {}),
  });
}

/** Version reported by `weft --version` and in the client's User-Agent. */
export const CLI_VERSION = '0.1.0';
