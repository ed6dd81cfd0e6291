#!/usr/bin/env node
// Ten sandboxed pack nodes per run, end to end: signs a copy of examples/packs/vendor.example.text
// with a key generated here (so the host verifies it like any signed pack), then runs
// bench/run.mjs against a host it spawns with that pack, the `sandbox-ten` workflow
// (examples/packs/workflows/sandbox-ten.json: ten nodes in a chain) and SQLite by default.
// Build first (npx tsc -b). Any other argument goes to bench/run.mjs, e.g.
//   node bench/sandbox-workflow.mjs -d 10 -c 16
//   node bench/sandbox-workflow.mjs --store postgres --json
// WEFT_SANDBOX_WORKERS (default 2) and the other WEFT_SANDBOX_* settings pass through.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSigningKey, signManifest } from '../packages/packs/dist/index.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const scratch = mkdtempSync(join(tmpdir(), 'weft-bench-pack-'));
const pack = join(scratch, 'vendor.example.text');
cpSync(join(REPO, 'examples', 'packs', 'vendor.example.text'), pack, { recursive: true });
const key = generateSigningKey();
mkdirSync(join(pack, 'keys'), { recursive: true });
writeFileSync(join(pack, 'keys', 'pack.json.sig'), signManifest(readFileSync(join(pack, 'pack.json')), key.privateKeyPem));
const keychain = join(scratch, 'keychain.json');
writeFileSync(
  keychain,
  JSON.stringify({
    signingKeys: [{ keyId: 'example-1', algorithm: 'ed25519', publicKey: key.publicKeyPem, permittedNamespaces: ['vendor.example.*'], status: 'active' }],
  }),
);
const args = [
  join(REPO, 'bench', 'run.mjs'),
  '--phases',
  'e2e',
  '--workflow',
  'sandbox-ten',
  '--workflows-dir',
  join(REPO, 'examples', 'packs', 'workflows'),
  ...process.argv.slice(2),
];
const child = spawn(process.execPath, args, {
  stdio: 'inherit',
  env: { ...process.env, WEFT_PACKS: pack, WEFT_PACKS_KEYCHAIN: keychain, WEFT_PACKS_TRUST: 'verified' },
});
child.on('close', (code) => {
  rmSync(scratch, { recursive: true, force: true });
  process.exit(code ?? 1);
});
