import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const cliDir = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = join(cliDir, '..', '..');
const launcher = join(cliDir, 'bin', 'weft.js');

describe('weft launcher (the bin npm links)', () => {
  it('is the committed, executable bin of both the CLI package and the repository root', () => {
    const cliPkg = JSON.parse(readFileSync(join(cliDir, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const rootPkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(join(cliDir, cliPkg.bin.weft ?? '')).toBe(launcher);
    expect(join(repoRoot, rootPkg.bin.weft ?? '')).toBe(launcher);
    expect(statSync(launcher).mode & 0o111).not.toBe(0);
  });

  it('runs the built CLI', () => {
    const r = spawnSync(process.execPath, [launcher, '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: weft');
  });

  it('says how to build when dist/ is missing, and exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-launcher-'));
    try {
      mkdirSync(join(dir, 'bin'));
      copyFileSync(launcher, join(dir, 'bin', 'weft.js'));
      copyFileSync(join(cliDir, 'package.json'), join(dir, 'package.json'));
      const r = spawnSync(process.execPath, [join(dir, 'bin', 'weft.js'), '--help'], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('dist/bin.js is missing');
      expect(r.stderr).toContain('npm run build');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
