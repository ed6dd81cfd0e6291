/**
 * The read side of the pack API (`/v1/packs`), black-box: public like the registry it mirrors,
 * list- and search-shaped, 400 `invalid_pack_name` / `invalid_version` for malformed names
 * and versions, 404 `pack_not_found` for unknown packs and versions, and 404
 * `signature_not_available` for a signature that does not exist. (A host with packs loaded is
 * covered in packages/testkit/src/packs-host.test.ts; these hosts load none.)
 */
import { describe, expect, it } from 'vitest';
import { call } from '../harness.js';

const UNKNOWN = 'vendor.conformance.never-loaded';

describe('pack read side', () => {
  it('lists and searches without a credential', async () => {
    const list = await call<{ packs: unknown[] }>('GET', '/v1/packs', { key: null });
    expect(list.status).toBe(200);
    expect(Array.isArray(list.body.packs)).toBe(true);
    const search = await call<{ results: { name: string }[] }>('GET', `/v1/packs/-/search?q=${UNKNOWN}`, { key: null });
    expect(search.status).toBe(200);
    expect(search.body.results).toEqual([]);
  });

  it('answers 400 invalid_pack_name for a name that is not reverse-DNS, on every pack path', async () => {
    for (const path of [
      '/v1/packs/not-a-pack',
      '/v1/packs/Vendor.Acme.x',
      '/v1/packs/local.acme.tools',
      '/v1/packs/vendor.acme/-/1.0.0.json',
      '/v1/packs/acme/-/1.0.0.sig',
    ]) {
      const r = await call('GET', path, { key: null });
      expect(r.status, path).toBe(400);
      expect(r.body.error, path).toBe('invalid_pack_name');
    }
  });

  it('answers 400 invalid_version for a version that is not exact semver', async () => {
    for (const v of ['1.0', 'v1.0.0', '^1.0.0', '1.0.0.0', '01.0.0']) {
      for (const ext of ['json', 'sig']) {
        const r = await call('GET', `/v1/packs/${UNKNOWN}/-/${encodeURIComponent(v)}.${ext}`, { key: null });
        expect(r.status, `${v}.${ext}`).toBe(400);
        expect(r.body.error, `${v}.${ext}`).toBe('invalid_version');
      }
    }
  });

  it('answers 404 pack_not_found for an unknown pack or version and 404 signature_not_available for its signature', async () => {
    const pack = await call('GET', `/v1/packs/${UNKNOWN}`, { key: null });
    expect(pack.status).toBe(404);
    expect(pack.body.error).toBe('pack_not_found');
    const manifest = await call('GET', `/v1/packs/${UNKNOWN}/-/1.0.0.json`, { key: null });
    expect(manifest.status).toBe(404);
    expect(manifest.body.error).toBe('pack_not_found');
    const sig = await call('GET', `/v1/packs/${UNKNOWN}/-/1.0.0.sig`, { key: null });
    expect(sig.status).toBe(404);
    expect(sig.body.error).toBe('signature_not_available');
  });
});
