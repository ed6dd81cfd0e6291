/**
 * The Fastify application: hooks in order (request id → authenticate → authorize scope →
 * handler), the routes, and the single error mapper.
 *
 * @see ../../../docs/architecture.md §HTTP pipeline
 */
import { createHash, randomBytes } from 'node:crypto';
import { WeftError, buildOpenApi } from '@weft/contract';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { requireScope, type ApiKeyAuthenticator } from './auth.js';
import type { HostContext } from './context.js';
import { sendError } from './errors.js';
import { registerEventRoutes } from './routes/events.js';
import { registerInterruptRoutes } from './routes/interrupts.js';
import { registerRunRoutes } from './routes/runs.js';
import { registerWorkflowRoutes } from './routes/workflows.js';

/** Builds the app (not listening). */
export function buildApp(ctx: HostContext, auth: ApiKeyAuthenticator, logger: Logger): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: ctx.config.maxBodyBytes,
    genReqId: () => `req_${randomBytes(8).toString('hex')}`,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 1024 },
  });
  app.decorateRequest('principal', null);
  app.removeContentTypeParser('text/plain');

  // Authenticate before any lookup or body parsing; then check the route's scope.
  app.addHook('onRequest', async (req) => {
    const scope = req.routeOptions.config.scope;
    if (!scope) return;
    const p = auth.authenticate(req.headers.authorization);
    requireScope(p, scope);
    req.principal = p;
  });
  app.addHook('onSend', async (_req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
  });

  app.setErrorHandler((err, req, reply) => sendError(err, req, reply));
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    const versioned = path.startsWith('/v1/') || path === '/v1' || path.startsWith('/.well-known/');
    const err = versioned
      ? new WeftError('not_found', 'No such route.')
      : new WeftError('unversioned_path', 'API paths are versioned: use /v1/… (discovery is at /.well-known/openwop).');
    return sendError(err, req, reply);
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
  const openapi = JSON.stringify(buildOpenApi({ version: ctx.version }));
  app.get('/v1/openapi.json', async (_req, reply) => reply.header('cache-control', 'public, max-age=300').type('application/json').send(openapi));

  registerWorkflowRoutes(app, ctx);
  registerRunRoutes(app, ctx);
  registerEventRoutes(app, ctx);
  registerInterruptRoutes(app, ctx);
  return app;
}
