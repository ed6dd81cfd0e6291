/**
 * The Fastify application: the `onRequest` pipeline, the routes, and the single error mapper.
 *
 * The pipeline, in order, fail-closed at every step:
 * 0. shutdown — once `app.close()` began: 503 `service_unavailable` with `Retry-After`;
 * 1. backpressure — at most `maxInFlight` requests at once (SSE streams are counted apart,
 *    against `maxSseStreams`, because they live for minutes): 503 `service_unavailable` with
 *    `Retry-After`;
 * 2. client certificate (when mTLS is on) — required, or checked whenever one is presented: 401;
 * 3. authenticate the bearer (API key, JWT or managed key) on routes that declare a scope: 401;
 *    with a certificate, the bearer's tenant must be the certificate's: 401;
 * 4. per-credential rate limit: 429 `rate_limited` with `Retry-After` — before the scope check,
 *    so a flooding key is throttled even where it has no scope;
 * 5. scope: 403 `forbidden` with `details.scopeRequired`;
 * all before the body is parsed or anything is looked up. Then the query is checked (a
 * repeated parameter is a 400), and JSON bodies are refused past {@link MAX_JSON_DEPTH}
 * levels before they are parsed. Requests that never reach a route (parser errors, unmet
 * `Expect`, over-long or undecodable URLs, unknown methods) get the same closed envelope.
 *
 * The OpenAPI document is built from the routes actually registered (collected with the
 * `onRoute` hook) and the declarations in `ROUTE_DOCS`; the app refuses to start when they
 * disagree.
 *
 * @see ../../../docs/architecture.md §HTTP pipeline, security-contract.md §1.2
 */
import { createHash, randomUUID } from 'node:crypto';
import { WeftError, buildOpenApi, declaredQueryParams, type ROUTE_SCHEMAS, type RouteSchemaKey } from '@weft/contract';
import { JwtVerifier, MtlsMapper, RateLimiter, type MtlsIdentity, type Principal } from '@weft/security';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
  type RouteGenericInterface,
} from 'fastify';
import type { Logger } from 'pino';
import { Authenticator, requireScope, type ApiKeyAuthenticator } from './auth.js';
import type { HostContext } from './context.js';
import { sendError } from './errors.js';
import { installRequestLog } from './request-log.js';
import { registerAuditRoutes } from './routes/audit.js';
import { registerSecretRoutes } from './routes/secrets.js';
import { registerConsoleRoutes } from './routes/console.js';
import { registerEventRoutes } from './routes/events.js';
import { registerInterruptRoutes } from './routes/interrupts.js';
import { registerKeyRoutes } from './routes/keys.js';
import { registerOperationsRoutes } from './routes/operations.js';
import { registerPackRoutes } from './routes/packs.js';
import { registerRunRoutes } from './routes/runs.js';
import { registerWebhookRoutes } from './routes/webhooks.js';
import { registerWorkflowRoutes } from './routes/workflows.js';
import {
  MAX_JSON_DEPTH,
  MAX_URL_BYTES,
  clientErrorHandler,
  continueUnlessTooLarge,
  expectationFailed,
  jsonDepthExceeds,
  queryError,
  tooDeep,
} from './request-limits.js';
import { mtlsEnabled } from './security-config.js';
import { httpsServerOptions, peerOf } from './tls.js';

/** The SSE route; its streams are counted against `maxSseStreams`, not `maxInFlight`. */
const SSE_ROUTE = '/v1/runs/:runId/events';

const isSseRequest = (req: FastifyRequest): boolean => {
  if (req.routeOptions.url !== SSE_ROUTE) return false;
  const accept = String(req.headers.accept ?? '');
  return !(accept.includes('application/json') && !accept.includes('text/event-stream'));
};

const overloaded = (what: string): WeftError =>
  new WeftError('service_unavailable', `The host is at its ${what} limit; retry shortly.`, { retryAfter: 1 }, { 'retry-after': '1' });

const shuttingDown = (): WeftError =>
  new WeftError('service_unavailable', 'The host is shutting down; retry shortly (another instance may answer).', { retryAfter: 1 }, { 'retry-after': '1' });

/**
 * The app as the route modules see it: Fastify with the TypeBox type provider, so a route whose
 * options carry `schema: ROUTE_SCHEMAS[key]` gets `req.params` / `req.query` typed from the
 * contract's schemas.
 */
export type WeftApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

/** The request of the typed route `K`, for helpers shared by the handlers of routes with one schema. */
export type WeftRequest<K extends RouteSchemaKey> = FastifyRequest<
  RouteGenericInterface,
  RawServerDefault,
  RawRequestDefaultExpression,
  (typeof ROUTE_SCHEMAS)[K],
  TypeBoxTypeProvider
>;

/** Live counters of the backpressure gauges (read by tests and metrics). */
export interface LoadGauges {
  inFlight: number;
  sseStreams: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Requests and SSE streams currently held (see the pipeline above). */
    loadGauges: LoadGauges;
    /** `METHOD /url` of every registered route (HEAD excluded), as Fastify reports them. */
    servedRoutes: readonly string[];
  }
}

/** A registered route's URL as a matcher for concrete paths (`:param` = one segment, `::` = `:`). */
function routeMatcher(url: string): RegExp {
  let re = '';
  for (let i = 0; i < url.length; i++) {
    const ch = url[i] as string;
    if (ch === ':' && url[i + 1] === ':') {
      re += ':';
      i++;
    } else if (ch === ':') {
      while (i + 1 < url.length && /[A-Za-z0-9_]/.test(url[i + 1] as string)) i++;
      re += '[^/]+';
    } else re += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The methods registered for paths matching `path` (for 405 and its Allow header). */
function allowedMethods(routes: readonly { method: string; match: RegExp }[], path: string): string[] {
  const out = new Set<string>();
  for (const r of routes) if (r.match.test(path)) out.add(r.method);
  return [...out].sort();
}

/** Builds the app (not listening). */
export function buildApp(ctx: HostContext, apiKeys: ApiKeyAuthenticator, logger: Logger): FastifyInstance {
  const cfg = ctx.config;
  const https = httpsServerOptions(cfg);
  const base = Fastify({
    loggerInstance: logger as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: cfg.maxBodyBytes,
    genReqId: () => `req_${randomUUID().replaceAll('-', '')}`,
    // While closing, the first onRequest hook answers 503 in the closed envelope instead.
    return503OnClosing: false,
    routerOptions: { maxParamLength: 1024 },
    // Missing Host is answered by the pipeline (with the envelope), not by Node (empty body).
    ...(https ? { https: { ...https, requireHostHeader: false } } : { https: null, http: { requireHostHeader: false } }),
    clientErrorHandler,
    frameworkErrors: (err, req, reply) => sendError(err, req, reply, ctx.redactor),
  }) as unknown as FastifyInstance;
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  app.server.on('checkExpectation', expectationFailed);
  app.server.on(
    'checkContinue',
    continueUnlessTooLarge(cfg.maxBodyBytes, (req, res) => app.server.emit('request', req, res)),
  );
  app.decorateRequest('principal', null);
  // One log line per request (first hook: refusals are logged too).
  installRequestLog(app, logger);
  app.removeContentTypeParser('text/plain');
  // JSON bodies: refuse excessive nesting before anything recursive (the parser, schema
  // validation, hashing, serialisation) touches them; then Fastify's poisoning-safe parser.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
      done(tooDeep(), undefined);
      return;
    }
    void parseJson(req, text, done);
  });

  // The route table, for the OpenAPI document, 405 answers and declared query parameters.
  const served: string[] = [];
  const matchers: { method: string; match: RegExp }[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') served.push(`${method} ${route.url}`);
      matchers.push({ method, match: routeMatcher(route.url) });
    }
  });
  app.decorate('servedRoutes', served);

  const securityLog = logger.child({ component: 'auth' });
  const jwt =
    cfg.oidcIssuers.length > 0
      ? new JwtVerifier(cfg.oidcIssuers, { onReject: (reason, issuer) => securityLog.debug({ reason, issuer }, 'bearer token refused') })
      : undefined;
  const auth = new Authenticator({
    apiKeys,
    ...(jwt ? { jwt } : {}),
    managedKeys: () => ctx.managedKeys,
  });
  const mtls = mtlsEnabled(cfg)
    ? new MtlsMapper({
        subjectMapping: cfg.mtlsSubjectMapping,
        subjects: cfg.mtlsSubjects,
        revokedFingerprints: cfg.mtlsRevoked,
        onReject: (reason, fingerprint) => securityLog.info({ reason, fingerprint }, 'client certificate refused'),
      })
    : undefined;
  const limiter = cfg.rateLimit ? new RateLimiter({ limit: cfg.rateLimit.limit, windowSec: cfg.rateLimit.windowSec }) : undefined;
  if (limiter) {
    const sweep = setInterval(() => limiter.sweep(), Math.max(1000, limiter.windowSec * 1000));
    sweep.unref();
    app.addHook('onClose', async () => clearInterval(sweep));
  }

  const gauges: LoadGauges = { inFlight: 0, sseStreams: 0 };
  app.decorate('loadGauges', gauges);

  // 0. Shutdown: from `app.close()` on, every request — new, or pipelined on a kept-alive
  //    connection — gets 503 with Retry-After, and the connection is closed after the answer.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Telemetry (configured only): a server span per request, first so it covers every refusal.
  const otel = ctx.telemetry;
  if (otel) {
    app.addHook('onRequest', async (req, reply) => {
      otel.httpRequest(req.raw, reply.raw, req.method, req.routeOptions.url, req.headers.traceparent);
    });
  }
  app.addHook('onRequest', async (req) => {
    // 0b. Shape of the request itself: target length and Host (HTTP/1.1 requires it).
    if (Buffer.byteLength(req.raw.url ?? '') > MAX_URL_BYTES)
      throw new WeftError('uri_too_long', 'The request target is too long.', { limitBytes: MAX_URL_BYTES });
    if (req.raw.httpVersion === '1.1' && !req.headers.host) throw new WeftError('bad_request', 'HTTP/1.1 requests must carry a Host header.');
  });
  app.addHook('onRequest', async (req, reply) => {
    if (closing) {
      reply.header('connection', 'close');
      throw shuttingDown();
    }
    // The liveness probe is not load: an overloaded process is alive (it has no scope either).
    if (req.routeOptions.url === '/healthz') return;
    // 1. Backpressure: refuse before doing any work; release when the response closes
    //    (finished, or the client went away).
    const sse = isSseRequest(req);
    if (sse ? gauges.sseStreams >= cfg.maxSseStreams : gauges.inFlight >= cfg.maxInFlight) throw overloaded(sse ? 'stream' : 'in-flight request');
    if (sse) gauges.sseStreams++;
    else gauges.inFlight++;
    let released = false;
    reply.raw.once('close', () => {
      if (released) return;
      released = true;
      if (sse) gauges.sseStreams--;
      else gauges.inFlight--;
    });

    // 2. Transport principal from the client certificate.
    let transport: MtlsIdentity | undefined;
    if (mtls) {
      const peer = peerOf(req.raw.socket);
      if (cfg.mtlsRequired || MtlsMapper.presented(peer)) transport = mtls.identify(peer);
    }

    const scope = req.routeOptions.config.scope;
    if (!scope) return;
    // 3. Authenticate the bearer; it must belong to the certificate's tenant.
    let p: Principal = await auth.authenticate(req.headers.authorization);
    if (transport) {
      if (p.tenant !== transport.tenant) throw new WeftError('unauthenticated', "The credential does not belong to the client certificate's tenant.");
      const ceiling = transport.scopes;
      if (ceiling) p = { ...p, scopes: new Set([...p.scopes].filter((s) => ceiling.has(s))) };
    }
    // 4. Rate limit per credential, before the scope check.
    if (limiter) {
      const d = limiter.take(p.principal);
      if (!d.allowed) {
        throw new WeftError(
          'rate_limited',
          'Too many requests for this credential; retry after the interval in Retry-After.',
          { retryAfterMs: d.retryAfterMs, scope: 'key', limit: d.limit },
          { 'retry-after': String(d.retryAfterSec) },
        );
      }
    }
    // 5. Scope.
    for (const sc of req.routeOptions.config.scopesOf?.(req) ?? [scope]) requireScope(p, sc);
    req.principal = p;
  });
  // 6. One query check for every route: a parameter given twice (never a string[] cast to
  //    string further down) or a value with a control character is a 400.
  app.addHook('onRequest', async (req) => {
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const err = queryError(req.query, declaredQueryParams(`${method} ${req.routeOptions.url ?? ''}`));
    if (err) throw err;
  });
  app.addHook('onSend', async (_req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    // Answers finished during shutdown (drained long-polls…) close their connection too.
    if (closing) reply.header('connection', 'close');
  });

  app.setErrorHandler((err, req, reply) => sendError(err, req, reply, ctx.redactor));
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    const allow = allowedMethods(matchers, path);
    if (allow.length > 0 && !allow.includes(req.method)) {
      reply.header('allow', allow.join(', '));
      return sendError(new WeftError('method_not_allowed', 'This path does not support the request method.', { allow }), req, reply);
    }
    const versioned = path.startsWith('/v1/') || path === '/v1' || path.startsWith('/.well-known/') || path.startsWith('/console/');
    const err = versioned
      ? new WeftError('not_found', 'No such route.')
      : new WeftError('unversioned_path', 'API paths are versioned: use /v1/… (discovery is at /.well-known/openwop).');
    return sendError(err, req, reply, ctx.redactor);
  });

  let discoveryCache: { body: string; etag: string } | undefined;
  const discovery = (): { body: string; etag: string } => {
    const body = JSON.stringify(ctx.discovery());
    if (discoveryCache?.body !== body) discoveryCache = { body, etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"` };
    return discoveryCache;
  };
  app.get('/.well-known/openwop', async (req, reply) => {
    const d = discovery();
    reply.header('cache-control', 'public, max-age=300').header('etag', d.etag).header('capabilities-etag', d.etag);
    if (req.headers['if-none-match'] === d.etag) return reply.code(304).send();
    return reply.type('application/json').send(d.body);
  });
  // Built once every route is registered; buildOpenApi throws (and the app does not start)
  // when a served route is undeclared or a declared one is not served.
  let openapi = '';
  app.addHook('onReady', async () => {
    openapi = JSON.stringify(buildOpenApi({ version: ctx.version }, served));
  });
  app.get('/v1/openapi.json', async (_req, reply) => reply.header('cache-control', 'public, max-age=300').type('application/json').send(openapi));

  registerWorkflowRoutes(app, ctx);
  registerRunRoutes(app, ctx);
  registerEventRoutes(app, ctx);
  registerInterruptRoutes(app, ctx);
  registerKeyRoutes(app, ctx);
  registerAuditRoutes(app, ctx);
  registerSecretRoutes(app, ctx);
  registerWebhookRoutes(app, ctx);
  registerPackRoutes(app, ctx);
  registerConsoleRoutes(app, ctx);
  registerOperationsRoutes(app, ctx);
  return app;
}
