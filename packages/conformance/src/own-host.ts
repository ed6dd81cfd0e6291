/**
 * Helpers for scenarios that need a host with special configuration (JWT issuers, mTLS, rate
 * limits, a tiny in-flight cap): they start their own in-process Weft with
 * `startTestHost(...)` and talk to it over real HTTP with {@link callAt}. Such scenarios run
 * once — in the in-process memory project — because they exercise the HTTP pipeline, which
 * no store changes.
 */
import { Writable } from 'node:stream';
import { target } from './harness.js';

/** True in the one project where scenarios start their own hosts. */
export const OWN_HOSTS: boolean = target.inProcess && target.store === 'memory';

export { callAt, type CallAtOptions } from './harness.js';

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
