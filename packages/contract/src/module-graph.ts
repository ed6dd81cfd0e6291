/**
 * Static import graph of TypeScript sources, for the dependency checks of
 * `@weft/contract/types` and the SDK: which bare specifiers a module loads at run time.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** `import … from 'x'`, `export … from 'x'` and side-effect `import 'x'` statements. */
const STATEMENT = /^(import|export)\s+(type\s+)?([^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;

/**
 * Every bare specifier (package name or `node:` builtin) loaded at run time by `entry` and the
 * relative modules it loads, following `./x.js` to `./x.ts`. Type-only statements are skipped:
 * the compiler erases them.
 */
export function runtimeDependencies(entry: string): Set<string> {
  const seen = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(STATEMENT)) {
      const [, , typeOnly, , spec] = m;
      if (typeOnly || !spec) continue;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else bare.add(spec);
    }
  };
  visit(resolve(entry));
  return bare;
}
