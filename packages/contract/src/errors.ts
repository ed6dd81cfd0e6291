/**
 * The one catalog of wire error codes Weft emits. Every non-2xx body is exactly
 * `{error, message, details?}` where `error` is a key of {@link ERROR_CATALOG}.
 * `docs/errors.md` is generated from this table (`npm run gen:errors`).
 *
 * @see wire-contract.md §4
 */
export interface ErrorSpec {
  /** HTTP status the code is sent with (0 = never sent as an HTTP status; run-level only). */
  readonly status: number;
  /** One line for `docs/errors.md`: when the code is used. */
  readonly when: string;
  /** Keys that may appear under `details`. */
  readonly details?: readonly string[];
}

export const ERROR_CATALOG = {
  unauthenticated: {
    status: 401,
    when: 'The credential is missing, malformed, unknown or not a Bearer token; a bearer JWT failed verification; or a required client certificate is missing, untrusted, expired, revoked or unmapped.',
  },
  key_expired: { status: 401, when: 'The API key is past its expiry, or the grace window after its rotation ended.' },
  key_revoked: { status: 401, when: 'The API key was revoked.' },
  forbidden: {
    status: 403,
    when: 'The credential is valid but lacks the scope the route requires (or interrupts:delegate, to vote on behalf of a named voter).',
    details: ['scopeRequired'],
  },
  not_found: { status: 404, when: "The route, run, workflow or artifact does not exist or is not visible to the caller's tenant." },
  unversioned_path: { status: 400, when: 'A request under an unversioned root; every API path lives under /v1/.' },
  validation_error: {
    status: 400,
    when: 'The body, query or path parameters are malformed or fail the schema.',
    details: ['errors', 'workflowId', 'maxRunIds', 'bufferMs', 'min', 'max'],
  },
  invalid_json: { status: 400, when: 'The request body is not valid JSON, or nests deeper than the JSON depth limit.', details: ['maxDepth'] },
  bad_request: {
    status: 400,
    when: 'The HTTP request itself is malformed: unparseable request line or headers, an undecodable URL, or no Host header on HTTP/1.1.',
  },
  method_not_allowed: { status: 405, when: 'The path exists but not with this HTTP method; the Allow header lists the methods it has.', details: ['allow'] },
  request_timeout: { status: 408, when: 'The client did not finish sending the request in time.' },
  expectation_failed: { status: 417, when: 'The Expect header names an expectation other than 100-continue.' },
  uri_too_long: { status: 414, when: 'The request target (path and query) exceeds the host limit.', details: ['limitBytes'] },
  header_fields_too_large: { status: 431, when: 'The request headers exceed the host limit.' },
  unsupported_media_type: { status: 415, when: 'A body was sent with a content type other than application/json.', details: ['contentType'] },
  payload_too_large: { status: 413, when: 'The request body exceeds the host limit.', details: ['limitBytes'] },
  unsupported_stream_mode: {
    status: 400,
    when: 'streamMode names an unknown mode or combines `values` with another mode.',
    details: ['supported'],
  },
  mock_provider_forbidden: {
    status: 403,
    when: 'configurable.mockProvider was sent with a key that is not a test key (see docs/agents.md "Mock providers").',
  },
  unsupported_mock_provider: {
    status: 400,
    when: 'configurable.mockProvider.id names no mock provider of this host (testing.mockProviders lists them), or its config is invalid.',
    details: ['supported'],
  },
  capability_required: {
    status: 400,
    when: 'The workflow uses a node type gated behind a capability this host does not advertise (refused at run creation), carries settings.compensation (refused at registration), or a run names a callbackUrl on a host whose webhooks are off (requiredCapability webhooks).',
    details: ['requiredCapability', 'offendingTypeId', 'nodeId'],
  },
  workflow_invalid: {
    status: 400,
    when: 'A workflow definition failed validation at registration, or uses node types this host does not implement (named in unknownTypes).',
    details: ['errors', 'unknownTypes'],
  },
  invalid_pack_name: {
    status: 400,
    when: 'A /v1/packs path names a pack that is not a reverse-DNS pack name ((core|vendor|community|private).owner.name).',
    details: ['name'],
  },
  invalid_version: { status: 400, when: 'A /v1/packs path names a version that is not an exact SemVer 2.0.0 version.', details: ['version'] },
  pack_not_found: { status: 404, when: 'No loaded pack has this name, or it has no such version.', details: ['name', 'version'] },
  signature_not_available: { status: 404, when: 'The pack version carries no signature (or does not exist).', details: ['name', 'version'] },
  idempotency_key_mismatch: { status: 409, when: 'The Idempotency-Key was already used with a different request body.' },
  idempotency_in_flight: { status: 409, when: 'A request with the same Idempotency-Key is still being processed.', details: ['retryAfter'] },
  run_terminal: { status: 409, when: 'The run already ended as completed or failed and cannot be cancelled.', details: ['runStatus'] },
  interrupt_already_resolved: {
    status: 409,
    when: 'The interrupt was already resolved (the losing side of a concurrent resolve, a reused token, or a re-sent identical event without its Idempotency-Key).',
    details: ['interruptId'],
  },
  already_voted: { status: 409, when: 'This principal (or named voter) already voted on the quorum approval.', details: ['interruptId'] },
  interrupt_expired: { status: 410, when: 'The interrupt or its token passed its deadline.', details: ['interruptId'] },
  interrupt_gone: {
    status: 410,
    when: 'The interrupt was invalidated (its run was cancelled by a parent, or the token no longer applies).',
    details: ['interruptId'],
  },
  run_expired: {
    status: 410,
    when: "The run ended longer ago than the host's retention window and its record and event log were deleted.",
    details: ['runId', 'expiredAt'],
  },
  interrupt_cancelled: { status: 422, when: 'The run was cancelled while the interrupt was pending.', details: ['interruptId'] },
  correlation_mismatch: { status: 422, when: "An external event does not match the interrupt's correlation.", details: ['mismatched'] },
  auth_elevation_required: { status: 403, when: 'This interrupt must be resolved with a bearer credential holding approvals:respond, not a callback token.' },
  webhook_url_rejected: {
    status: 400,
    when: 'A webhook URL is not https:// (only an operator-allowlisted destination may be http://), carries credentials, or names a destination the SSRF guard refuses (an internal name, or a host with any loopback, private, link-local, ULA, metadata or reserved address, in any spelling); nothing was stored.',
    details: ['reason'],
  },
  webhook_state_conflict: {
    status: 409,
    when: 'The webhook subscription is not in a state that allows this: only a paused subscription resumes, a failed or dead-lettered one is terminal (re-register it), and redelivery needs an active one.',
    details: ['state'],
  },
  tenant_membership_required: {
    status: 403,
    when: "A webhook request names a tenantId other than the credential's own tenant (checked before any lookup).",
  },
  secret_already_exists: { status: 409, when: 'The tenant already has a vault secret with this secretId; rotate it instead.', details: ['secretId'] },
  precondition_failed: { status: 412, when: 'If-Match names a version of the resource other than its current one (it changed meanwhile).', details: ['etag'] },
  key_state_conflict: { status: 409, when: 'The API key cannot be rotated: it is revoked, expired or was already rotated.', details: ['keyId'] },
  run_state_conflict: {
    status: 409,
    when: 'The run is not in a state that allows this operation (e.g. pausing a paused run).',
    details: ['runStatus', 'pausedAt'],
  },
  rate_limited: {
    status: 429,
    when: 'The credential exceeded its request rate (checked after authentication, before the scope check); retry after Retry-After.',
    details: ['retryAfterMs', 'scope', 'limit'],
  },
  service_unavailable: {
    status: 503,
    when: "The host is overloaded (in-flight or stream cap), shutting down, cannot reach its database, or cannot fetch an identity provider's keys; retry after Retry-After.",
    details: ['retryAfter'],
  },
  internal_error: { status: 500, when: 'An unexpected failure inside the host; the message carries no internals.', details: ['correlationId'] },
  // Run-level codes: carried in RunSnapshot.error / run.failed, never as HTTP statuses.
  capability_not_provided: {
    status: 0,
    when: 'A node requires a runtime capability the host does not provide; the node never starts.',
    details: ['capability', 'nodeId'],
  },
  recursion_limit_exceeded: { status: 0, when: 'The run exceeded its node-execution limit (after cap.breached kind node-executions).' },
  run_timeout: { status: 0, when: 'The run exceeded its wall-clock limit (after cap.breached kind run-duration).' },
  unsupported_node_type: { status: 0, when: 'A node names a typeId no registry entry implements.', details: ['typeId', 'nodeId'] },
  interrupt_rejected: { status: 0, when: 'An approval gate was rejected (or timed out, which fails closed).', details: ['action', 'decidedBy'] },
  parent_cancelled: { status: 0, when: 'Reason recorded on a child run cancelled because its parent was cancelled.' },
  fan_out_unsupported: {
    status: 0,
    when: 'A core.dispatch node with fanOutPolicy "reject" got a next-worker decision naming more than one worker.',
    details: ['nodeId', 'workers'],
  },
  unknown_child_workflow: {
    status: 0,
    when: 'A core.dispatch worker id names no workflow this host can start as a child run (unknown, or capability-gated).',
    details: ['nodeId', 'worker', 'reason'],
  },
  child_failed: {
    status: 0,
    when: 'A sub-workflow child run failed and the parent node was configured to fail with it.',
    details: ['childRunId', 'childError'],
  },
  credential_not_found: {
    status: 0,
    when: "A secret reference does not name a secret of the run's tenant (missing, deleted, or another tenant's — the same answer).",
    details: ['ref'],
  },
  credential_unavailable: {
    status: 0,
    when: 'The host cannot resolve secrets: the vault is not configured, or no configured master key opens the stored secret.',
    details: ['ref'],
  },
  credential_forbidden: {
    status: 0,
    when: "An LLM node's credentialRef is not a vault reference (it looks like key material), or names a provider that does not accept caller credentials (BYOK).",
    details: ['provider'],
  },
  provider_not_supported: { status: 0, when: 'An LLM node names a provider this host does not configure.', details: ['provider'] },
  provider_policy_denied: {
    status: 0,
    when: 'The provider policy refused the call: reason provider_disabled, byok_required, byok_required_but_unresolved or model_not_allowed (with the allowed globs).',
    details: ['provider', 'reason', 'allowed'],
  },
  provider_quota_exhausted: {
    status: 0,
    when: 'The LLM provider answered 429; retryable, and a Retry-After is honoured as the minimum backoff.',
    details: ['provider', 'status', 'retryAfterMs'],
  },
  provider_unavailable: {
    status: 0,
    when: 'The LLM provider answered 5xx, reported an error in its stream, or sent a malformed stream; retryable.',
    details: ['provider', 'status', 'retryAfterMs', 'reason'],
  },
  provider_request_rejected: {
    status: 0,
    when: 'The LLM provider refused the request with a 4xx other than 429 (bad key, bad model, bad request); its body is never quoted.',
    details: ['provider', 'status'],
  },
  envelope_refused_by_provider: {
    status: 0,
    when: 'The model refused (safety); terminal, never retried. The refusal text is only on the envelope.refusal event.',
    details: ['provider'],
  },
  envelope_payload_invalid: {
    status: 0,
    when: 'core.ai.structuredOutput got no answer that parses and matches the schema within limits.schemaRounds retries.',
    details: ['attempts', 'reason', 'provider'],
  },
  envelope_truncation_unrecoverable: {
    status: 0,
    when: 'core.ai.structuredOutput answers stayed truncated at the output token limit (doubled on each retry) within limits.schemaRounds retries.',
    details: ['attempts', 'provider'],
  },
  pack_runtime_unavailable: {
    status: 0,
    when: 'A pack node body ran with no runtime attached for its pack language. Normally refused earlier: such nodes require weft.packRuntime.<language>, so a run reaching one fails with capability_not_provided before node.started.',
    details: ['typeId', 'nodeId', 'pack', 'language'],
  },
  deterministic_fail: { status: 0, when: 'Default error code of core.fail.' },
  sandbox_timeout: {
    status: 0,
    when: 'A sandboxed pack node ran past its wall-clock limit (WEFT_SANDBOX_TIMEOUT_MS), or waited on a promise that could never settle; the interpreter was interrupted and its worker replaced.',
    details: ['limitMs', 'reason'],
  },
  sandbox_memory_exceeded: {
    status: 0,
    when: 'A sandboxed pack node exceeded its heap (WEFT_SANDBOX_MEMORY_BYTES) or stack limit; its worker was replaced.',
    details: ['limitBytes', 'kind'],
  },
  sandbox_capability_denied: {
    status: 0,
    when: 'Pack code used something the sandbox does not grant: require, process, fetch, timers, eval or the Function constructor, an import outside the pack, ctx.http without net.outbound, or suspending.',
    details: ['requestedCapability'],
  },
  sandbox_output_invalid: {
    status: 0,
    when: 'A pack node returned something other than {status:"success", outputs:{…}} or {status:"failure", error}: not JSON-serialisable, not an object, or nested deeper than 64 levels.',
    details: ['maxDepth'],
  },
  sandbox_output_too_large: { status: 0, when: 'A pack node outcome exceeded WEFT_SANDBOX_MAX_OUTPUT_BYTES.', details: ['limitBytes'] },
  sandbox_failed: { status: 0, when: 'The sandbox worker crashed or was shut down during the call; retryable.' },
  sandbox_cancelled: { status: 0, when: 'The run was cancelled while a pack node ran; its worker was terminated.' },
  pack_node_failed: {
    status: 0,
    when: 'Pack code threw a non-Error, an error without a valid code (lower-case, at most 64 characters), or claimed a sandbox_* code.',
    details: ['thrown', 'packCode'],
  },
  pack_node_missing: {
    status: 0,
    when: 'The pack entry module exports no function for the node type, or the entry module is missing.',
    details: ['pack', 'typeId'],
  },
  code_failed: { status: 0, when: 'The function of a core.code node threw (without an error code of its own).' },
  node_timeout: {
    status: 0,
    when: "A node attempt ran past its settings.retry.attemptTimeoutMs; its body was aborted. Retryable: the node's retry policy applies.",
    details: ['nodeId'],
  },
  loop_limit_exceeded: {
    status: 0,
    when: 'A loop ran out of iterations: core.loop was given more items than its maxIterations (capped at 10,000), or core.ai.toolCalling was still calling tools after its maxIterations turns.',
    details: ['nodeId', 'limit', 'observed'],
  },
  ssrf_blocked: {
    status: 0,
    when: 'An outbound HTTP call (core.http.request), or a redirect it followed, named a destination the SSRF guard refuses: a scheme other than http/https, a port outside the policy, an internal host name, or a host with any loopback, private, link-local, shared, metadata, multicast or reserved address; nothing was sent.',
    details: ['reason'],
  },
  fetch_failed: {
    status: 0,
    when: 'An outbound HTTP call failed before a complete response: the name did not resolve (dns), the connection or TLS failed (connect), a redirect was invalid or over the limit, the body could not be decoded, or the call was aborted.',
    details: ['reason', 'cause', 'status'],
  },
  fetch_timeout: { status: 0, when: 'An outbound HTTP call did not finish (redirects and body included) within its deadline.', details: ['timeoutMs'] },
  response_too_large: {
    status: 0,
    when: 'The response body of an outbound HTTP call exceeded its byte limit (counted after decompression).',
    details: ['limitBytes'],
  },
  node_error: { status: 0, when: 'A node body threw an error without a code of its own.' },
  invalid_from_seq: {
    status: 422,
    when: "A fork's fromSeq is past the source run's log (more than one past its last event) or past its terminal event.",
    details: ['sourceRunId', 'fromSeq', 'lastSequence'],
  },
  replay_source_missing: {
    status: 0,
    when: 'A node of a replay fork reached an effect whose outcome the source run did not record (or an effect seam a replay never uses: direct outbound HTTP, a sub-workflow dispatch); nothing was sent. The fork was still created (201).',
    details: ['sourceRunId', 'nodeId', 'ordinal', 'providerKey'],
  },
} as const satisfies Record<string, ErrorSpec>;

/** A wire error code known to Weft. */
export type ErrorCode = keyof typeof ERROR_CATALOG;

/** The closed error envelope. */
export interface ErrorEnvelope {
  error: string;
  message: string;
  details?: Record<string, unknown>;
}

/**
 * An error that carries a wire code. Thrown anywhere in the host; the server's single error
 * mapper turns it into the envelope and status from {@link ERROR_CATALOG}.
 */
export class WeftError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  /** Extra response headers, e.g. Retry-After. */
  readonly headers: Record<string, string> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, headers?: Record<string, string>) {
    super(message);
    this.name = 'WeftError';
    this.code = code;
    this.details = details;
    this.headers = headers;
  }

  /** HTTP status for this code (500 for run-level codes that leak to HTTP by mistake). */
  get status(): number {
    const s = ERROR_CATALOG[this.code].status;
    return s === 0 ? 500 : s;
  }

  /** The closed wire envelope. */
  toEnvelope(): ErrorEnvelope {
    const env: ErrorEnvelope = { error: this.code, message: this.message };
    if (this.details && Object.keys(this.details).length > 0) env.details = this.details;
    return env;
  }
}

/** True when `code` is in the catalog. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CATALOG, code);
}
