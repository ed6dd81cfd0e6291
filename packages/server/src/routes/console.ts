/**
 * The Weft console (`@weft/console`, a built single-page app) served as static files at
 * `/console`:
 *
 * - `GET /console` and `GET /console/` — `index.html`;
 * - `GET /console/{file}` and `GET /console/assets/{file}` — the files Vite wrote.
 *
 * `WEFT_CONSOLE=off` makes all of them answer 404 like an unknown route.
 *
 * The routes are public (the page holds no data; the app asks for an API key and then speaks
 * the public API like any client) and carry a strict Content-Security-Policy: scripts, styles,
 * images and connections from this origin only, no inline script or style, no frames, no
 * plugins, no form posts, no `<base>`. Only names listed in the build directory are served
 * (never a path built from the request), from memory after the first read; nothing happens on
 * the API's hot path, and nothing is read at all until someone opens the console.
 *
 * Where the build is: `consoleDir` (`WEFT_CONSOLE_DIR`), by default `packages/console/dist` of
 * this repository. A missing build is not an error: `/console` answers 503 with a page saying
 * how to build it, and start-up prints the same hint.
 *
 * @see ../../../../docs/console.md
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WeftError, ROUTE_SCHEMAS } from '@weft/contract';
import type { FastifyReply } from 'fastify';
import type { WeftApp } from '../app.js';
import type { HostContext } from '../context.js';

/** The policy every console response carries. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** File names the routes accept; anything else cannot be in the build and answers 404. */
const FILE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The command that builds the console, quoted in the missing-build page and at start-up. */
export const CONSOLE_BUILD_HINT = 'npm run build -w @weft/console';

interface ConsoleFile {
  body: Buffer;
  type: string;
}

/** The default build directory: `packages/console/dist` beside this package. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../../console/dist/', import.meta.url));

/** True when `dir` holds a console build (its `index.html`). */
export function consoleBuilt(dir: string): boolean {
  return existsSync(join(dir, 'index.html'));
}

/** Reads the files of one directory level whose names the routes accept. */
function readLevel(dir: string, prefix: string, into: Map<string, ConsoleFile>): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const type = TYPES[extname(name).toLowerCase()];
    if (!FILE_RE.test(name) || !type || !statSync(path).isFile()) continue;
    into.set(prefix + name, { body: readFileSync(path), type });
  }
}

/**
 * The build, read on first use and kept in memory. Returns `undefined` while there is no build
 * (checked again on the next request, so building while the host runs works without a
 * restart). Requests for the page itself (`fresh`) re-read the table when `index.html`
 * changed, so a rebuild is served from the next page load on.
 */
function loader(dir: string): (fresh: boolean) => Map<string, ConsoleFile> | undefined {
  let files: Map<string, ConsoleFile> | undefined;
  let stamp = -1;
  return (fresh) => {
    if (files && !fresh) return files;
    let mtime: number;
    try {
      mtime = statSync(join(dir, 'index.html')).mtimeMs;
    } catch {
      files = undefined;
      return undefined;
    }
    if (files && mtime === stamp) return files;
    const table = new Map<string, ConsoleFile>();
    readLevel(dir, '', table);
    readLevel(join(dir, 'assets'), 'assets/', table);
    files = table;
    stamp = mtime;
    return files;
  };
}

const NOT_BUILT_PAGE = (dir: string): string =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Weft console not built</title></head><body>` +
  `<h1>The Weft console is not built</h1><p>This host serves the console from <code>${escapeHtml(dir)}</code>, which holds no build.</p>` +
  `<p>Build it with <code>${CONSOLE_BUILD_HINT}</code> (the root <code>npm install</code>, <code>npm start</code> and <code>npm test</code> do it too), then reload. ` +
  'Point <code>WEFT_CONSOLE_DIR</code> elsewhere to serve another build.</p></body></html>';

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cross-origin-resource-policy', 'same-origin');
}

/**
 * Registers the console routes. Switched off (`WEFT_CONSOLE=off`) they answer like an unknown
 * route (the route table, and so the OpenAPI document, stays the same).
 */
export function registerConsoleRoutes(app: WeftApp, ctx: HostContext): void {
  const dir = ctx.config.consoleDir ?? DEFAULT_CONSOLE_DIR;
  const files = loader(dir);

  const send = (name: string, reply: FastifyReply): FastifyReply => {
    if (!ctx.config.console) throw new WeftError('not_found', 'No such route.');
    const table = files(name === 'index.html');
    if (!table) {
      return secure(reply).code(503).header('cache-control', 'no-store').header('retry-after', '5').type('text/html; charset=utf-8').send(NOT_BUILT_PAGE(dir));
    }
    const f = FILE_RE.test(name.replace(/^assets\//, '')) ? table.get(name) : undefined;
    if (!f) throw new WeftError('not_found', 'No such console file.');
    // Vite names assets by content hash: cache them for good; the page itself is revalidated.
    const cache = name.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    return secure(reply).header('cache-control', cache).type(f.type).send(f.body);
  };

  app.get('/console', async (_req, reply) => send('index.html', reply));
  app.get('/console/', async (_req, reply) => send('index.html', reply));
  app.get('/console/:file', { schema: ROUTE_SCHEMAS['GET /console/:file'] }, async (req, reply) => send(req.params.file, reply));
  app.get('/console/assets/:file', { schema: ROUTE_SCHEMAS['GET /console/assets/:file'] }, async (req, reply) => send(`assets/${req.params.file}`, reply));
}
