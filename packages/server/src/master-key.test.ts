import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MASTER_KEY_FILE, loadMasterKeys, requestDigest } from './master-key.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'weft-mk-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const entry = (id: string): string => `${id}:${randomBytes(32).toString('base64url')}`;

describe('vault master keys', () => {
  it('invariant: vault-master-key-strength — SQLite without a configured key generates one owner-only (0600) into the data directory and reuses it', () => {
    const dir = join(tmp(), 'nested');
    const a = loadMasterKeys({ store: 'sqlite', dataDir: dir });
    expect(a?.source).toBe('generated');
    const file = join(dir, MASTER_KEY_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readFileSync(file, 'utf8')).toMatch(/^# .*\nlocal-[0-9a-f]{8}:[A-Za-z0-9_-]{43}\n$/);
    const b = loadMasterKeys({ store: 'sqlite', dataDir: dir });
    expect(b?.source).toBe('data-dir');
    expect(b?.keyIds).toEqual(a?.keyIds);
    expect(b?.digestKey.equals(a?.digestKey as Buffer)).toBe(true);
  });

  it('memory uses a per-process key; Postgres without a configured key keeps the vault disabled', () => {
    const dir = tmp();
    const m1 = loadMasterKeys({ store: 'memory', dataDir: dir });
    const m2 = loadMasterKeys({ store: 'memory', dataDir: dir });
    expect(m1?.source).toBe('ephemeral');
    expect(m1?.keyIds).not.toEqual(m2?.keyIds);
    expect(loadMasterKeys({ store: 'postgres', dataDir: dir })).toBeUndefined();
    expect(loadMasterKeys({ store: 'postgres', dataDir: dir, masterKey: entry('pg1') })?.keyIds).toEqual(['pg1']);
  });

  it('reads WEFT_MASTER_KEY or WEFT_MASTER_KEY_FILE (never both) and refuses a writable-by-others file', () => {
    const dir = tmp();
    const file = join(dir, 'keys');
    writeFileSync(file, `${entry('k2')}\n${entry('k1')}\n`, { mode: 0o600 });
    expect(loadMasterKeys({ store: 'postgres', dataDir: dir, masterKeyFile: file })).toMatchObject({ source: 'file', keyIds: ['k2', 'k1'] });
    expect(() => loadMasterKeys({ store: 'sqlite', dataDir: dir, masterKey: entry('a'), masterKeyFile: file })).toThrow(/not both/);
    chmodSync(file, 0o662);
    expect(() => loadMasterKeys({ store: 'sqlite', dataDir: dir, masterKeyFile: file })).toThrow(/group- or world-writable/);
    expect(() => loadMasterKeys({ store: 'sqlite', dataDir: dir, masterKeyFile: join(dir, 'missing') })).toThrow(/cannot read/);
    expect(() => loadMasterKeys({ store: 'sqlite', dataDir: dir, masterKey: `k:${'7'.repeat(64)}` })).toThrow(/too weak/);
  });

  it('the request digest is keyed: stable for one key, different under another, never the plain hash', () => {
    const a = loadMasterKeys({ store: 'postgres', dataDir: '/nonexistent', masterKey: entry('a') });
    const b = loadMasterKeys({ store: 'postgres', dataDir: '/nonexistent', masterKey: entry('b') });
    const v = 'a-secret-value-0123456789';
    expect(requestDigest(a?.digestKey as Buffer, v)).toBe(requestDigest(a?.digestKey as Buffer, v));
    expect(requestDigest(a?.digestKey as Buffer, v)).not.toBe(requestDigest(b?.digestKey as Buffer, v));
  });
});
