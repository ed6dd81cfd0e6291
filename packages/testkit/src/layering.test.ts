/**
 * The package layering of docs/architecture.md, checked on the sources: a package may import
 * only the @weft packages its row allows, and the engine imports no I/O module.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './test-host.js';

const ALLOWED: Record<string, string[]> = {
  contract: [],
  engine: ['contract'],
  'store-kit': ['engine', 'contract'],
  security: ['contract'],
  packs: ['contract', 'engine'],
  sandbox: ['contract', 'engine', 'packs'],
  'store-sqlite': ['store-kit', 'engine', 'contract'],
  'store-postgres': ['store-kit', 'engine', 'contract'],
  server: ['contract', 'engine', 'store-kit', 'security', 'packs', 'sandbox', 'store-sqlite', 'store-postgres'],
  sdk: ['contract'],
  cli: ['server', 'sdk', 'contract', 'engine', 'packs'],
  conformance: ['sdk', 'contract', 'testkit'],
  console: ['sdk', 'contract'],
  testkit: ['contract', 'engine', 'store-kit', 'security', 'packs', 'sandbox', 'store-sqlite', 'store-postgres', 'server', 'sdk'],
};

/** Database drivers: only the store package of each may import its own. */
const DRIVERS = /^(pg|better-sqlite3)$/;

/** SQL statements; the engine holds none (the SQL stores and `@weft/store-kit` do). */
const SQL_TEXT = /\b(SELECT\s+[\w*(]|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET|NOT\s+IN\s*\('|\b[A-Z]+_SQL\b)/;

/** Modules the pure engine must not import (I/O, frameworks, drivers). */
const ENGINE_FORBIDDEN = /^(node:)?(fs|fs\/promises|http|https|net|dgram|child_process|worker_threads|fastify|pg|better-sqlite3|pino)$/;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.tsx?$/.test(p) && !/\.test\.tsx?$/.test(p) ? [p] : [];
  });
}

const importsOf = (file: string): string[] => [...readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1] as string);

describe('layering', () => {
  it.each(Object.keys(ALLOWED))('package %s imports only the @weft packages it may', (pkg) => {
    const bad: string[] = [];
    for (const file of sources(join(REPO_ROOT, 'packages', pkg, 'src'))) {
      for (const spec of importsOf(file)) {
        const m = /^@weft\/([a-z-]+)/.exec(spec);
        if (m?.[1] && m[1] !== pkg && !ALLOWED[pkg]?.includes(m[1])) bad.push(`${file}: ${spec}`);
        if (pkg === 'engine' && ENGINE_FORBIDDEN.test(spec)) bad.push(`${file}: ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('OpenTelemetry is imported only by the server telemetry module (the engine sees its RunTelemetry port)', () => {
    const bad: string[] = [];
    for (const pkg of Object.keys(ALLOWED)) {
      for (const file of sources(join(REPO_ROOT, 'packages', pkg, 'src'))) {
        if (file.endsWith(join('server', 'src', 'telemetry.ts'))) continue;
        for (const spec of importsOf(file)) if (spec.startsWith('@opentelemetry/')) bad.push(`${file}: ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('the engine holds no SQL', () => {
    const bad = sources(join(REPO_ROOT, 'packages', 'engine', 'src')).filter((file) => SQL_TEXT.test(readFileSync(file, 'utf8')));
    expect(bad).toEqual([]);
  });

  it('the shared store plumbing imports no database driver', () => {
    const bad: string[] = [];
    for (const file of sources(join(REPO_ROOT, 'packages', 'store-kit', 'src')))
      for (const spec of importsOf(file)) if (DRIVERS.test(spec)) bad.push(`${file}: ${spec}`);
    expect(bad).toEqual([]);
  });

  it('the SDK has no runtime imports besides its own files and the dependency-free @weft/contract/types', () => {
    const bad: string[] = [];
    for (const file of sources(join(REPO_ROOT, 'packages', 'sdk', 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^import\s+(?!type\b)[^'"]*'([^']+)'/gm)) {
        const spec = m[1] as string;
        if (!spec.startsWith('.') && spec !== '@weft/contract/types') bad.push(`${file}: ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
