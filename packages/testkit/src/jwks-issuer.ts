/**
 * A local OAuth2/OIDC token issuer for tests: serves `/.well-known/jwks.json` and
 * `/.well-known/openid-configuration` on 127.0.0.1 (ephemeral port) and mints tokens with
 * jose. Keys can be added (published or not), rotated and withdrawn; the JWKS endpoint can be
 * taken down to simulate an IdP outage. Also crafts the hostile tokens of the JWT negative
 * matrix (`alg: none`, HS256 signed with the RSA public key).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export type IssuerAlg = 'RS256' | 'ES256';

interface IssuerKey {
  kid: string;
  alg: IssuerAlg;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
  published: boolean;
}

/** What a minted token carries; `undefined` fields are left out. */
export interface MintOptions {
  /** Key to sign with (default: the first key). */
  kid?: string;
  sub?: string;
  /** Default: the issuer's own URL. */
  iss?: string;
  aud?: string | string[];
  scope?: string;
  scp?: string[];
  /** Seconds relative to now; default +300. `null` omits `exp`. */
  expIn?: number | null;
  /** Seconds relative to now; `undefined` omits `nbf`. */
  nbfIn?: number;
  /** Seconds relative to now; default 0. `null` omits `iat`. */
  iatIn?: number | null;
  /** Extra claims (e.g. a tenant claim). */
  claims?: Record<string, unknown>;
  /** Header `kid` to write instead of the signing key's (for unknown-kid tests). */
  headerKid?: string;
}

export interface JwksIssuer {
  /** The issuer URL (`iss`), e.g. `http://127.0.0.1:PORT`. */
  issuer: string;
  jwksUri: string;
  /** How many times the JWKS document was served. */
  readonly jwksFetches: number;
  /** Creates a key; published in the JWKS unless `publish: false`. Returns its kid. */
  addKey(alg: IssuerAlg, opts?: { publish?: boolean; kid?: string }): Promise<string>;
  publish(kid: string): void;
  unpublish(kid: string): void;
  /** When true the JWKS endpoint answers 503 (an IdP outage). */
  setDown(down: boolean): void;
  mint(opts?: MintOptions): Promise<string>;
  /** An unsigned token (`alg: none`, empty signature). */
  mintUnsigned(opts?: MintOptions): string;
  /** HS256 "signed" with the PEM of an RSA key's public half: the algorithm-confusion attack. */
  mintHs256WithPublicKey(kid: string, opts?: MintOptions): Promise<string>;
  /** Flips one character of the signature of `token`. */
  tamperSignature(token: string): string;
  close(): Promise<void>;
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

/** Starts an issuer with one published RS256 key (`kids[0]`). */
export async function startJwksIssuer(): Promise<JwksIssuer> {
  const keys = new Map<string, IssuerKey>();
  let down = false;
  let fetches = 0;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/.well-known/jwks.json') {
      fetches++;
      if (down) {
        res.writeHead(503).end();
        return;
      }
      const body = JSON.stringify({ keys: [...keys.values()].filter((k) => k.published).map((k) => k.jwk) });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      return;
    }
    if (path === '/.well-known/openid-configuration') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ issuer, jwks_uri: `${issuer}/.well-known/jwks.json`, id_token_signing_alg_values_supported: ['RS256', 'ES256'] }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const claimsOf = (o: MintOptions): JWTPayload => {
    const now = Math.floor(Date.now() / 1000);
    const p: JWTPayload = { ...o.claims };
    p.iss = o.iss ?? issuer;
    if (o.sub !== undefined) p.sub = o.sub;
    if (o.aud !== undefined) p.aud = o.aud;
    if (o.scope !== undefined) p.scope = o.scope;
    if (o.scp !== undefined) p.scp = o.scp;
    if (o.expIn !== null) p.exp = now + (o.expIn ?? 300);
    if (o.iatIn !== null) p.iat = now + (o.iatIn ?? 0);
    if (o.nbfIn !== undefined) p.nbf = now + o.nbfIn;
    return p;
  };
  const keyFor = (kid: string | undefined): IssuerKey => {
    const k = kid === undefined ? [...keys.values()][0] : keys.get(kid);
    if (!k) throw new Error(`no issuer key ${kid ?? '(first)'}`);
    return k;
  };

  const self: JwksIssuer = {
    issuer,
    jwksUri: `${issuer}/.well-known/jwks.json`,
    get jwksFetches() {
      return fetches;
    },
    async addKey(alg, opts = {}) {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const kid = opts.kid ?? `k-${randomBytes(6).toString('hex')}`;
      const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
      keys.set(kid, { kid, alg, privateKey, publicKey, jwk, published: opts.publish ?? true });
      return kid;
    },
    publish(kid) {
      keyFor(kid).published = true;
    },
    unpublish(kid) {
      keyFor(kid).published = false;
    },
    setDown(d) {
      down = d;
    },
    async mint(o = {}) {
      const k = keyFor(o.kid);
      return new SignJWT(claimsOf(o)).setProtectedHeader({ alg: k.alg, kid: o.headerKid ?? k.kid, typ: 'JWT' }).sign(k.privateKey);
    },
    mintUnsigned(o = {}) {
      const k = keyFor(o.kid);
      return `${b64({ alg: 'none', kid: o.headerKid ?? k.kid, typ: 'JWT' })}.${b64(claimsOf(o))}.`;
    },
    async mintHs256WithPublicKey(kid, o = {}) {
      const k = keyFor(kid);
      const pem = await exportSPKI(k.publicKey);
      const input = `${b64({ alg: 'HS256', kid: k.kid, typ: 'JWT' })}.${b64(claimsOf(o))}`;
      return `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
    },
    tamperSignature(token) {
      const [h, p, s = ''] = token.split('.');
      // Change a character in the middle so the decoded bytes differ (the last one may only
      // carry padding bits).
      const i = Math.floor(s.length / 2);
      const c = s[i] === 'A' ? 'B' : 'A';
      return `${h}.${p}.${s.slice(0, i)}${c}${s.slice(i + 1)}`;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
  await self.addKey('RS256');
  return self;
}
