/**
 * Helpers for scenarios that need a host with special configuration (JWT issuers, mTLS, rate
 * limits, a tiny in-flight cap): they start their own in-process Weft with
 * `startTestHost(...)` and talk to it over real HTTP with {@link callAt}. Such scenarios run
 * once — in the in-process memory project — because they exercise the HTTP pipeline, which
 * no store changes.
 */
import { Writable } from 'node:stream';
import { assertErrorEnvelope, target, type Res } from './harness.js';

/** True in the one project where scenarios start their own hosts. */
export const OWN_HOSTS: boolean = target.inProcess && target.store === 'memory';

export interface CallAtOptions {
  /** Bearer credential; `null`/undefined sends no Authorization header. */
  bearer?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** One request against `baseUrl`; non-2xx JSON bodies must be the closed error envelope. */
export async function callAt<T = Record<string, unknown>>(baseUrl: string, method: string, path: string, opts: CallAtOptions = {}): Promise<Res<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.bearer) headers.authorization = `Bearer ${opts.bearer}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body, redirect: 'manual', ...(opts.signal ? { signal: opts.signal } : {}) });
  const text = await res.text();
  let parsed: unknown = null;
  if (text && (res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
  if (res.status >= 400) assertErrorEnvelope(parsed);
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

/** A log destination that keeps every line, for canary scans. */
export class LineCapture extends Writable {
  readonly lines: string[] = [];

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    this.lines.push(chunk.toString('utf8'));
    cb();
  }

  /** Everything captured so far. */
  get text(): string {
    return this.lines.join('');
  }
}

/** Every header value of a response, for "never echoed" assertions. */
export const headerValues = (h: Headers): string[] => [...h].map(([k, v]) => `${k}: ${v}`);
