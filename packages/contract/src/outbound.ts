/**
 * The outbound HTTP port: what a node asks the host to send and what comes back. Declared here,
 * once, because both sides use it — the engine (`ctx.http`) and the adapter that implements it
 * behind the SSRF guard (`@weft/security`'s `OutboundClient`), which may not import each other.
 * Types only; nothing here runs.
 */

/** One outbound HTTP request a node asks the host to make. */
export interface OutboundRequest {
  method: string;
  /** Absolute http(s) URL. */
  url: string;
  headers?: Readonly<Record<string, string>>;
  body?: string | Uint8Array;
  /** Shortens the host's deadline for the whole call (redirects included); never extends it. */
  timeoutMs?: number;
  /** Lowers the host's response body cap; never raises it. */
  maxResponseBytes?: number;
  /** Redirects to follow (0: a 3xx is the response); capped by the host. */
  maxRedirects?: number;
  signal?: AbortSignal;
  /** Called with each decoded body chunk of the final response as it arrives (streamed LLM tokens). */
  onBodyChunk?: (chunk: Uint8Array, head: { status: number; headers: Record<string, string> }) => void;
}

/** The response to an {@link OutboundRequest}, after redirects. */
export interface OutboundResponse {
  status: number;
  /** Lower-case header names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  /** The body, decoded from its content encoding. */
  body: Uint8Array;
  /** The URL that answered. */
  url: string;
  redirects: number;
}

/**
 * Outbound HTTP, the only way a node reaches the network. The host wires `@weft/security`'s
 * `OutboundClient`, which puts every hop behind the SSRF guard (resolve, validate every
 * address, pin the connection to it); the engine never imports an HTTP module. A failure is
 * thrown as an error carrying a catalog `code` — `ssrf_blocked`, `fetch_failed`,
 * `fetch_timeout`, `response_too_large` or `validation_error` — and wire-safe `details`.
 *
 * @see security-contract.md §3.3 (WH-22), execution-semantics.md ctx table `httpClient`
 */
export interface Outbound {
  request(req: OutboundRequest): Promise<OutboundResponse>;
}
