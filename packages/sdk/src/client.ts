/**
 * `WeftClient`: a typed client for an OpenWOP v1 host (and Weft's host extensions) over the
 * global `fetch`. Every non-2xx answer becomes a {@link WeftApiError}; the API key only ever
 * travels in the `Authorization` header and is redacted from anything an error message quotes.
 *
 * @see wire-contract.md §1.1
 */
import { IDEMPOTENT_REPLAY_HEADER, isTerminalStatus, type RunEventDoc } from '@weft/contract/types';
import type {
  ApiKeyList,
  ApiKeyView,
  AuditVerifyResult,
  BulkCancelResponse,
  CancelRunResponse,
  CreateApiKeyRequest,
  CreateRunBody,
  CreateRunResponse,
  CreateSecretRequest,
  CreateWebhookRequest,
  CreatedWebhook,
  DiscoveryDocument,
  ForkRunRequest,
  ForkRunResponse,
  InterruptList,
  InterruptView,
  IssuedApiKey,
  PauseRunResponse,
  PendingInterruptList,
  PollEventsResponse,
  RegisterWorkflowResult,
  ResolveInterruptResponse,
  ResumeRunResponse,
  RewrapResult,
  RotateSecretRequest,
  RotateApiKeyRequest,
  RunList,
  RunSnapshot,
  SecretList,
  SecretMetadata,
  Webhook,
  WebhookDelivery,
  WebhookDeliveryList,
  WebhookList,
  Workflow,
  WorkflowList,
} from './api-types.js';
import type {
  ApprovalOptions,
  CreateRunResult,
  ForkRunResult,
  IdempotencyOptions,
  ListRunsQuery,
  PauseRunOptions,
  PollEventsOptions,
  ResumeRunOptions,
  SecretWriteOptions,
  StreamEventsOptions,
} from './options.js';
import { WeftApiError, WeftConnectionError, parseRetryAfter, redactSecret } from './errors.js';
import { resumableEventStream, type EventStreamConnector } from './event-stream.js';

/** Version sent in the default `User-Agent`. */
export const SDK_VERSION = '0.1.0';
/** Base URL used when neither the options nor the environment name one. */
export const DEFAULT_BASE_URL = 'http://127.0.0.1:3737';

const REPLAY_HEADER = IDEMPOTENT_REPLAY_HEADER;

/** Constructor options of {@link WeftClient}. */
export interface WeftClientOptions {
  /** Host root, e.g. `http://127.0.0.1:3737` (paths already carry `/v1`). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Replaces the global `fetch` (tests, proxies, instrumentation). */
  fetch?: typeof fetch;
  /** `User-Agent` header; default `weft-sdk/<version>`. */
  userAgent?: string;
}

/** Per-call options shared by every method. */
export interface RequestOptions {
  signal?: AbortSignal;
}

type QueryValue = string | number | boolean | undefined;

interface SendOptions {
  query?: Record<string, QueryValue>;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
  /** Send no `Authorization` header (routes whose path carries the credential). */
  anonymous?: boolean;
  /** A second secret (e.g. a token in the path) redacted from every error this request raises. */
  secret?: string;
}

const segment = (value: string): string => encodeURIComponent(value);

/** `Idempotency-Key` header from the options, if any. */
const idempotencyHeaders = (options: IdempotencyOptions): Record<string, string> =>
  options.idempotencyKey === undefined ? {} : { 'idempotency-key': options.idempotencyKey };

/** Drops `undefined` fields so the body carries only what the caller gave. */
function compact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  return out;
}

/** Describes why `fetch` rejected, including the socket-level cause Node puts in `cause`. */
function describeFetchFailure(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return `${err.message} (${typeof code === 'string' ? code : cause.message})`;
  }
  return err.message;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A client for one host and credential. Instances are cheap and stateless. */
export class WeftClient {
  /** The normalized base URL (no trailing slash). */
  readonly baseUrl: string;
  readonly #apiKey: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #userAgent: string;

  constructor(options: WeftClientOptions) {
    let parsed: URL;
    try {
      parsed = new URL(options.baseUrl);
    } catch {
      throw new TypeError('baseUrl must be an absolute http(s) URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TypeError('baseUrl must be an absolute http(s) URL');
    if (parsed.username || parsed.password) throw new TypeError('baseUrl must not carry credentials; pass apiKey instead');
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#apiKey = options.apiKey || undefined;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#userAgent = options.userAgent ?? `weft-sdk/${SDK_VERSION}`;
  }

  /**
   * Builds a client from the environment: `OPENWOP_BASE_URL` / `OPENWOP_API_KEY` (the
   * ecosystem names) first, then `WEFT_BASE_URL` / `WEFT_API_KEY`, then the default base URL.
   */
  static fromEnv(env: Record<string, string | undefined> = process.env): WeftClient {
    const baseUrl = env.OPENWOP_BASE_URL || env.WEFT_BASE_URL || DEFAULT_BASE_URL;
    const apiKey = env.OPENWOP_API_KEY || env.WEFT_API_KEY || undefined;
    return new WeftClient(apiKey ? { baseUrl, apiKey } : { baseUrl });
  }

  /** `GET /.well-known/openwop` — the discovery document. @see wire-contract.md §2 */
  async discovery(options: RequestOptions = {}): Promise<DiscoveryDocument> {
    return this.#json<DiscoveryDocument>('GET', '/.well-known/openwop', { signal: options.signal });
  }

  /** `GET /v1/openapi.json` — the host's OpenAPI 3.1 document. */
  async openapi(options: RequestOptions = {}): Promise<Record<string, unknown>> {
    return this.#json<Record<string, unknown>>('GET', '/v1/openapi.json', { signal: options.signal });
  }

  /** `GET /v1/workflows/{workflowId}` — the stored workflow definition. */
  async getWorkflow(workflowId: string, options: RequestOptions = {}): Promise<Workflow> {
    return this.#json<Workflow>('GET', `/v1/workflows/${segment(workflowId)}`, { signal: options.signal });
  }

  /**
   * `POST /v1/runs` — starts a run (201). With `idempotencyKey`, a retry with the same body
   * returns the original answer and `replayed: true`.
   *
   * @see wire-contract.md §1.3
   */
  async createRun(body: CreateRunBody, options: IdempotencyOptions & RequestOptions = {}): Promise<CreateRunResult> {
    const headers: Record<string, string> = {};
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
    const response = await this.#send('POST', '/v1/runs', { body, headers, signal: options.signal });
    const data = await this.#read<CreateRunResponse>(response);
    const replayed = response.headers.get(REPLAY_HEADER)?.trim().toLowerCase() === 'true';
    return { ...data, replayed };
  }

  /**
   * `POST /v1/runs/{runId}:fork` — a new run from the source's state at `fromSeq` (201, status
   * `pending`). `mode: 'replay'` re-executes with the source's recorded effects served (never
   * made again; `fromSeq` defaults to 0, no overlay); `mode: 'branch'` runs live from `fromSeq`
   * (required) with `runOptionsOverlay` — and really re-fires effects past it. Errors: 400
   * `validation_error`, 404 `not_found`, 409 idempotency, 422 `invalid_from_seq`.
   *
   * @see execution-semantics.md §3
   */
  async forkRun(runId: string, body: ForkRunRequest, options: IdempotencyOptions & RequestOptions = {}): Promise<ForkRunResult> {
    const headers: Record<string, string> = {};
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
    const response = await this.#send('POST', `/v1/runs/${segment(runId)}:fork`, { body, headers, signal: options.signal });
    const data = await this.#read<ForkRunResponse>(response);
    const replayed = response.headers.get(REPLAY_HEADER)?.trim().toLowerCase() === 'true';
    return { ...data, replayed };
  }

  /** `GET /v1/runs/{runId}` — the run snapshot. @see wire-contract.md §3.2 */
  async getRun(runId: string, options: RequestOptions = {}): Promise<RunSnapshot> {
    return this.#json<RunSnapshot>('GET', `/v1/runs/${segment(runId)}`, { signal: options.signal });
  }

  /** `GET /v1/runs` — one page of the caller's runs, newest first; follow `nextCursor`. */
  async listRuns(query: ListRunsQuery = {}, options: RequestOptions = {}): Promise<RunList> {
    return this.#json<RunList>('GET', '/v1/runs', {
      query: { status: query.status, workflowId: query.workflowId, limit: query.limit, cursor: query.cursor },
      signal: options.signal,
    });
  }

  /** `POST /v1/runs/{runId}/cancel` — requests cancellation (200 `cancelling` or `cancelled`). */
  async cancelRun(runId: string, reason?: string, options: IdempotencyOptions & RequestOptions = {}): Promise<CancelRunResponse> {
    const headers: Record<string, string> = {};
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
    return this.#json<CancelRunResponse>('POST', `/v1/runs/${segment(runId)}/cancel`, {
      body: reason === undefined ? {} : { reason },
      headers,
      signal: options.signal,
    });
  }

  /** `POST /v1/runs:bulk-cancel` — cancels up to 100 runs; per-id outcomes in request order. */
  async bulkCancel(runIds: readonly string[], reason?: string, options: IdempotencyOptions & RequestOptions = {}): Promise<BulkCancelResponse> {
    const headers: Record<string, string> = {};
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
    return this.#json<BulkCancelResponse>('POST', '/v1/runs:bulk-cancel', {
      body: reason === undefined ? { runIds } : { runIds, reason },
      headers,
      signal: options.signal,
    });
  }

  /**
   * `GET /v1/runs/{runId}/events/poll` — events with `sequence > lastSequence`, waiting up to
   * `timeout` seconds when there are none yet.
   *
   * @see wire-contract.md §3.6
   */
  async pollEvents(runId: string, options: PollEventsOptions = {}): Promise<PollEventsResponse> {
    return this.#json<PollEventsResponse>('GET', `/v1/runs/${segment(runId)}/events/poll`, {
      query: { lastSequence: options.lastSequence, timeout: options.timeout },
      signal: options.signal,
    });
  }

  /**
   * `GET /v1/runs/{runId}/events` — the run's events over SSE, `batch` frames expanded, each
   * event yielded once; ends after the terminal event. Dropped connections are resumed with
   * `Last-Event-ID` unless `autoResume` is false.
   *
   * @see wire-contract.md §3.5
   */
  streamEvents(runId: string, options: StreamEventsOptions = {}): AsyncGenerator<RunEventDoc, void, undefined> {
    const mode = options.streamMode;
    const query: Record<string, QueryValue> = {
      streamMode: typeof mode === 'string' || mode === undefined ? mode : mode.join(','),
      bufferMs: options.bufferMs,
    };
    const path = `/v1/runs/${segment(runId)}/events`;
    const connector: EventStreamConnector = {
      open: async (lastEventId, signal) => {
        const headers: Record<string, string> = { accept: 'text/event-stream' };
        if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
        const response = await this.#send('GET', path, { query, headers, signal });
        const type = response.headers.get('content-type') ?? '';
        if (!type.toLowerCase().startsWith('text/event-stream') || !response.body) {
          await response.body?.cancel().catch(() => undefined);
          throw new WeftApiError({
            status: response.status,
            code: 'invalid_response',
            message: `Expected text/event-stream from GET ${path}, got ${type || 'no content type'}.`,
          });
        }
        return response.body;
      },
      isRunTerminal: async (signal) => isTerminalStatus((await this.getRun(runId, { signal })).status),
    };
    return resumableEventStream(runId, connector, options);
  }

  /**
   * Streams a run's events to `onEvent` until the run ends, then resolves with the final
   * snapshot (`GET /v1/runs/{runId}/events`, then `GET /v1/runs/{runId}`).
   */
  async watchRun(runId: string, onEvent: (event: RunEventDoc) => void | Promise<void>, options: StreamEventsOptions = {}): Promise<RunSnapshot> {
    for await (const event of this.streamEvents(runId, options)) await onEvent(event);
    return this.getRun(runId, { signal: options.signal });
  }

  /**
   * `POST /v1/runs/{runId}/interrupts/{nodeId}` — answers the interrupt a node waits on with
   * `resumeValue` (needs `approvals:respond`). The shape depends on the kind: an approval takes
   * {@link ApprovalResumeValue}, a clarification {@link ClarificationResumeValue}, an external
   * event the event object itself. A quorum approval answers `interrupt.outcome: 'pending'`
   * until enough votes arrived.
   *
   * @see execution-semantics.md §2.4
   */
  async resolveInterrupt(
    runId: string,
    nodeId: string,
    resumeValue: unknown,
    options: IdempotencyOptions & RequestOptions = {},
  ): Promise<ResolveInterruptResponse> {
    return this.#json<ResolveInterruptResponse>('POST', `/v1/runs/${segment(runId)}/interrupts/${segment(nodeId)}`, {
      body: { resumeValue },
      headers: idempotencyHeaders(options),
      signal: options.signal,
    });
  }

  /** Accepts the approval a node waits on: `resumeValue {action: 'accept', comment?}`. */
  async approve(runId: string, nodeId: string, options: ApprovalOptions & IdempotencyOptions & RequestOptions = {}): Promise<ResolveInterruptResponse> {
    return this.resolveInterrupt(runId, nodeId, compact({ action: 'accept', comment: options.comment }), options);
  }

  /** Rejects the approval a node waits on: `resumeValue {action: 'reject', comment?}`. */
  async reject(runId: string, nodeId: string, options: ApprovalOptions & IdempotencyOptions & RequestOptions = {}): Promise<ResolveInterruptResponse> {
    return this.resolveInterrupt(runId, nodeId, compact({ action: 'reject', comment: options.comment }), options);
  }

  /** Answers a clarification: `resumeValue {answers}`, one answer per question id. */
  async answer(
    runId: string,
    nodeId: string,
    answers: Record<string, unknown>,
    options: IdempotencyOptions & RequestOptions = {},
  ): Promise<ResolveInterruptResponse> {
    return this.resolveInterrupt(runId, nodeId, { answers }, options);
  }

  /** `GET /v1/runs/{runId}/interrupts` — every interrupt of the run, pending or settled. */
  async listRunInterrupts(runId: string, options: RequestOptions = {}): Promise<InterruptList> {
    return this.#json<InterruptList>('GET', `/v1/runs/${segment(runId)}/interrupts`, { signal: options.signal });
  }

  /** `GET /v1/host/weft/interrupts` — the pending interrupts of the caller's tenant. Weft host extension. */
  async listPendingInterrupts(options: RequestOptions = {}): Promise<PendingInterruptList> {
    return this.#json<PendingInterruptList>('GET', '/v1/host/weft/interrupts', { signal: options.signal });
  }

  /**
   * `GET /v1/interrupts/{token}` — the interrupt a signed callback token stands for. The token
   * is the credential: no `Authorization` header is sent, and the token never appears in an
   * error message.
   */
  async inspectInterruptToken(token: string, options: RequestOptions = {}): Promise<InterruptView> {
    return this.#json<InterruptView>('GET', `/v1/interrupts/${segment(token)}`, { anonymous: true, secret: token, signal: options.signal });
  }

  /** `POST /v1/interrupts/{token}` — answers an interrupt with its callback token (no `Authorization` header). */
  async resolveInterruptToken(token: string, resumeValue: unknown, options: IdempotencyOptions & RequestOptions = {}): Promise<ResolveInterruptResponse> {
    return this.#json<ResolveInterruptResponse>('POST', `/v1/interrupts/${segment(token)}`, {
      body: { resumeValue },
      headers: idempotencyHeaders(options),
      anonymous: true,
      secret: token,
      signal: options.signal,
    });
  }

  /**
   * `POST /v1/runs/{runId}:pause` — pauses a live run (202). By default the node that is
   * running finishes first; `drainPolicy: 'immediate'` aborts it. A run that is already paused
   * or has ended answers 409 `run_state_conflict` with `details.runStatus`.
   */
  async pauseRun(runId: string, options: PauseRunOptions & IdempotencyOptions & RequestOptions = {}): Promise<PauseRunResponse> {
    return this.#json<PauseRunResponse>('POST', `/v1/runs/${segment(runId)}:pause`, {
      body: compact({ reason: options.reason, drainPolicy: options.drainPolicy }),
      headers: idempotencyHeaders(options),
      signal: options.signal,
    });
  }

  /** `POST /v1/runs/{runId}:resume` — resumes a paused run (202); 409 `run_state_conflict` when it is not paused. */
  async resumeRun(runId: string, options: ResumeRunOptions & IdempotencyOptions & RequestOptions = {}): Promise<ResumeRunResponse> {
    return this.#json<ResumeRunResponse>('POST', `/v1/runs/${segment(runId)}:resume`, {
      body: compact({ reason: options.reason }),
      headers: idempotencyHeaders(options),
      signal: options.signal,
    });
  }

  /**
   * `POST /v1/host/weft/workflows` — registers a workflow definition (201 when new, 200 when
   * the identical definition was already stored). Weft host extension.
   *
   * @see wire-contract.md §5.7
   */
  async registerWorkflow(definition: Workflow | Record<string, unknown>, options: RequestOptions = {}): Promise<RegisterWorkflowResult> {
    return this.#json<RegisterWorkflowResult>('POST', '/v1/host/weft/workflows', { body: definition, signal: options.signal });
  }

  /** `GET /v1/host/weft/workflows` — every stored workflow. Weft host extension. */
  async listWorkflows(options: RequestOptions = {}): Promise<WorkflowList> {
    return this.#json<WorkflowList>('GET', '/v1/host/weft/workflows', { signal: options.signal });
  }

  /** `DELETE /v1/host/weft/workflows/{workflowId}` — removes a stored workflow (204). Weft host extension. */
  async deleteWorkflow(workflowId: string, options: RequestOptions = {}): Promise<void> {
    await this.#json<undefined>('DELETE', `/v1/host/weft/workflows/${segment(workflowId)}`, { signal: options.signal });
  }

  /**
   * `POST /v1/host/weft/secrets` — stores a secret in the caller's tenant (201, metadata only;
   * the value is write-only and redacted from any error this call raises). Weft host extension.
   */
  async createSecret(body: CreateSecretRequest, options: IdempotencyOptions & RequestOptions = {}): Promise<SecretMetadata> {
    return this.#json<SecretMetadata>('POST', '/v1/host/weft/secrets', {
      body,
      headers: idempotencyHeaders(options),
      secret: body.value,
      signal: options.signal,
    });
  }

  /** `GET /v1/host/weft/secrets` — the caller's secrets: metadata, never values. Weft host extension. */
  async listSecrets(options: RequestOptions = {}): Promise<SecretList> {
    return this.#json<SecretList>('GET', '/v1/host/weft/secrets', { signal: options.signal });
  }

  /** `GET /v1/host/weft/secrets/{secretId}` — one secret's metadata and its ETag. Weft host extension. */
  async getSecret(secretId: string, options: RequestOptions = {}): Promise<SecretMetadata & { etag?: string }> {
    const response = await this.#send('GET', `/v1/host/weft/secrets/${segment(secretId)}`, { signal: options.signal });
    const meta = await this.#read<SecretMetadata>(response);
    const etag = response.headers.get('etag');
    return etag ? { ...meta, etag } : meta;
  }

  /** `POST /v1/host/weft/secrets/{secretId}:rotate` — a new value and version (200, metadata). Weft host extension. */
  async rotateSecret(secretId: string, body: RotateSecretRequest, options: SecretWriteOptions & RequestOptions = {}): Promise<SecretMetadata> {
    const headers = idempotencyHeaders(options);
    if (options.ifMatch !== undefined) headers['if-match'] = options.ifMatch;
    return this.#json<SecretMetadata>('POST', `/v1/host/weft/secrets/${segment(secretId)}:rotate`, {
      body,
      headers,
      secret: body.value,
      signal: options.signal,
    });
  }

  /** `DELETE /v1/host/weft/secrets/{secretId}` — removes a secret at once (204). Weft host extension. */
  async deleteSecret(secretId: string, options: SecretWriteOptions & RequestOptions = {}): Promise<void> {
    const headers = idempotencyHeaders(options);
    if (options.ifMatch !== undefined) headers['if-match'] = options.ifMatch;
    await this.#json<undefined>('DELETE', `/v1/host/weft/secrets/${segment(secretId)}`, { headers, signal: options.signal });
  }

  /**
   * `POST /v1/webhooks` — subscribes a receiver to the caller's run events (201). The response
   * carries the signing `secret` this once (later reads show `secretFingerprint` only); it is
   * redacted from any error this call raises.
   */
  async createWebhook(body: CreateWebhookRequest, options: IdempotencyOptions & RequestOptions = {}): Promise<CreatedWebhook> {
    return this.#json<CreatedWebhook>('POST', '/v1/webhooks', { body, headers: idempotencyHeaders(options), signal: options.signal });
  }

  /** `GET /v1/webhooks` — the caller's subscriptions. */
  async listWebhooks(options: RequestOptions = {}): Promise<WebhookList> {
    return this.#json<WebhookList>('GET', '/v1/webhooks', { signal: options.signal });
  }

  /** `GET /v1/webhooks/{webhookId}` — one subscription. */
  async getWebhook(webhookId: string, options: RequestOptions = {}): Promise<Webhook> {
    return this.#json<Webhook>('GET', `/v1/webhooks/${segment(webhookId)}`, { signal: options.signal });
  }

  /** `DELETE /v1/webhooks/{webhookId}` — unsubscribes at once (204). */
  async deleteWebhook(webhookId: string, options: IdempotencyOptions & RequestOptions = {}): Promise<void> {
    await this.#json<undefined>('DELETE', `/v1/webhooks/${segment(webhookId)}`, { headers: idempotencyHeaders(options), signal: options.signal });
  }

  /** `GET /v1/webhooks/{webhookId}/deliveries` — delivery records, newest first. Weft extension. */
  async listWebhookDeliveries(webhookId: string, query: { limit?: number } = {}, options: RequestOptions = {}): Promise<WebhookDeliveryList> {
    const q = query.limit === undefined ? '' : `?limit=${query.limit}`;
    return this.#json<WebhookDeliveryList>('GET', `/v1/webhooks/${segment(webhookId)}/deliveries${q}`, { signal: options.signal });
  }

  /** `POST /v1/webhooks/{webhookId}/deliveries/{deliveryId}:redeliver` — one more attempt now. Weft extension. */
  async redeliverWebhook(webhookId: string, deliveryId: string, options: IdempotencyOptions & RequestOptions = {}): Promise<WebhookDelivery> {
    return this.#json<WebhookDelivery>('POST', `/v1/webhooks/${segment(webhookId)}/deliveries/${segment(deliveryId)}:redeliver`, {
      body: {},
      headers: idempotencyHeaders(options),
      signal: options.signal,
    });
  }

  /**
   * `POST /v1/webhooks/{webhookId}:pause` — holds a subscription (Weft extension over the WH-17
   * states): best-effort events are recorded `skipped`, durable rows wait in the outbox. A
   * `failed` or `dead-lettered` subscription is 409 `webhook_state_conflict`.
   */
  async pauseWebhook(webhookId: string, options: IdempotencyOptions & RequestOptions = {}): Promise<Webhook> {
    return this.#json<Webhook>('POST', `/v1/webhooks/${segment(webhookId)}:pause`, { body: {}, headers: idempotencyHeaders(options), signal: options.signal });
  }

  /** `POST /v1/webhooks/{webhookId}:resume` — makes a paused subscription active again and releases its held rows. */
  async resumeWebhook(webhookId: string, options: IdempotencyOptions & RequestOptions = {}): Promise<Webhook> {
    return this.#json<Webhook>('POST', `/v1/webhooks/${segment(webhookId)}:resume`, { body: {}, headers: idempotencyHeaders(options), signal: options.signal });
  }

  /** `POST /v1/host/weft/vault:rewrap` — operator only: rewraps data keys under the current master key. */
  async rewrapVault(options: RequestOptions = {}): Promise<RewrapResult> {
    return this.#json<RewrapResult>('POST', '/v1/host/weft/vault:rewrap', { body: {}, signal: options.signal });
  }

  /**
   * `GET /v1/host/weft/keys` — the managed API keys of the caller's tenant (needs `keys:manage`);
   * never a secret or a hash. Only the operator credential may name another `tenant`. Weft host extension.
   */
  async listKeys(query: { tenant?: string } = {}, options: RequestOptions = {}): Promise<ApiKeyList> {
    return this.#json<ApiKeyList>('GET', '/v1/host/weft/keys', { query: { tenant: query.tenant }, signal: options.signal });
  }

  /**
   * `POST /v1/host/weft/keys` — creates a managed key (201). The answer carries the secret this
   * once; the host keeps only its hash. Weft host extension.
   */
  async createKey(body: CreateApiKeyRequest, options: RequestOptions = {}): Promise<IssuedApiKey> {
    return this.#json<IssuedApiKey>('POST', '/v1/host/weft/keys', { body, signal: options.signal });
  }

  /**
   * `POST /v1/host/weft/keys/{keyId}:rotate` — issues a successor (201, its secret once); the old
   * key keeps working for the grace window. Weft host extension.
   */
  async rotateKey(keyId: string, body: RotateApiKeyRequest = {}, options: RequestOptions = {}): Promise<IssuedApiKey> {
    return this.#json<IssuedApiKey>('POST', `/v1/host/weft/keys/${segment(keyId)}:rotate`, { body, signal: options.signal });
  }

  /** `POST /v1/host/weft/keys/{keyId}:revoke` — revokes a key at once. Weft host extension. */
  async revokeKey(keyId: string, options: RequestOptions = {}): Promise<ApiKeyView> {
    return this.#json<ApiKeyView>('POST', `/v1/host/weft/keys/${segment(keyId)}:revoke`, { body: {}, signal: options.signal });
  }

  /**
   * `GET /v1/audit/verify?fromSeq&toSeq` — re-walks the audit log's hash chain over the range and
   * checks its signed checkpoints (needs `audit:read`).
   */
  async verifyAudit(fromSeq: number, toSeq: number, options: RequestOptions = {}): Promise<AuditVerifyResult> {
    return this.#json<AuditVerifyResult>('GET', '/v1/audit/verify', { query: { fromSeq, toSeq }, signal: options.signal });
  }

  async #json<T>(method: string, path: string, options: SendOptions): Promise<T> {
    return this.#read<T>(await this.#send(method, path, options), options.secret);
  }

  /** Sends one request; resolves with a 2xx response, throws for anything else. */
  async #send(method: string, path: string, options: SendOptions): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.#userAgent, ...options.headers };
    if (this.#apiKey && !options.anonymous) headers.authorization = `Bearer ${this.#apiKey}`;
    const init: RequestInit = { method, headers };
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    }
    if (options.signal) init.signal = options.signal;

    let url = this.baseUrl + path;
    if (options.query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(options.query)) if (v !== undefined) params.set(k, String(v));
      const qs = params.toString();
      if (qs) url += `?${qs}`;
    }

    let response: Response;
    try {
      response = await this.#fetch(url, init);
    } catch (err) {
      options.signal?.throwIfAborted();
      const request = this.#redact(`${method} ${path}`, options.secret);
      throw new WeftConnectionError(request, this.#redact(`${method} ${path} failed: ${describeFetchFailure(err)}`, options.secret), { cause: err });
    }
    if (!response.ok) throw await this.#toApiError(response, options.secret);
    return response;
  }

  async #read<T>(response: Response, secret?: string): Promise<T> {
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      throw new WeftConnectionError(this.#redact(response.url, secret), this.#redact(`Reading the answer failed: ${describeFetchFailure(err)}`, secret), {
        cause: err,
      });
    }
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new WeftApiError({
        status: response.status,
        code: 'invalid_response',
        message: `The host answered ${response.status} with a body that is not JSON.`,
      });
    }
  }

  /** Maps a non-2xx answer to {@link WeftApiError}, reading the `{error, message, details?}` envelope. */
  async #toApiError(response: Response, secret?: string): Promise<WeftApiError> {
    const text = await response.text().catch(() => '');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
    const base = retryAfter === undefined ? {} : { retryAfter };
    if (isRecord(parsed) && typeof parsed.error === 'string' && parsed.error !== '') {
      const details = isRecord(parsed.details) ? (JSON.parse(this.#redact(JSON.stringify(parsed.details), secret)) as Record<string, unknown>) : undefined;
      return new WeftApiError({
        ...base,
        status: response.status,
        code: this.#redact(parsed.error, secret),
        message: this.#redact(typeof parsed.message === 'string' && parsed.message !== '' ? parsed.message : `HTTP ${response.status}`, secret),
        ...(details ? { details } : {}),
      });
    }
    return new WeftApiError({
      ...base,
      status: response.status,
      code: `http_${response.status}`,
      message: this.#redact(`The host answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''} without an error envelope.`),
    });
  }

  #redact(text: string, extra?: string): string {
    const once = redactSecret(text, this.#apiKey);
    if (!extra) return once;
    // The path form too: a token with reserved characters travels percent-encoded.
    return redactSecret(redactSecret(once, extra), encodeURIComponent(extra));
  }
}
