/**
 * W3C trace context helpers the engine needs without any tracing SDK: carrying a run's
 * `traceparent` into the outbound calls of its node bodies.
 *
 * @see execution-semantics.md §8 (trace context)
 */
import type { Outbound } from './ports.js';

/**
 * The outbound port a node body gets: the host's, with `traceparent` set on every call when the
 * run (or its attempt span) has one. A `traceparent` the node set itself is replaced: the trace is
 * the run's, not the workflow author's.
 */
export function tracedOutbound(outbound: Outbound | undefined, traceparent: string | undefined): Outbound | undefined {
  if (!outbound || !traceparent) return outbound;
  return {
    request: (req) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers ?? {})) if (k.toLowerCase() !== 'traceparent' && k.toLowerCase() !== 'tracestate') headers[k] = v;
      headers.traceparent = traceparent;
      return outbound.request({ ...req, headers });
    },
  };
}
