/**
 * Throwaway X.509 material for mTLS tests, generated at test time with the `openssl` CLI
 * (EC P-256 keys, so it takes milliseconds): a CA, a server certificate for 127.0.0.1 and
 * localhost, client certificates (valid, expired, not yet valid, or issued by a second,
 * untrusted CA), and an HTTPS client that presents them.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its key on disk. */
export interface CertFiles {
  cert: string;
  key: string;
  certPem: string;
  keyPem: string;
  /** SHA-256 fingerprint as Node prints it (`AB:CD:…`). */
  fingerprint256: string;
}

export interface ClientCertOptions {
  cn: string;
  dns?: string[];
  uri?: string[];
  /** Validity window entirely in the past. */
  expired?: boolean;
  /** Validity window entirely in the future. */
  notYetValid?: boolean;
  /** Sign with the second CA that the host does not trust. */
  untrusted?: boolean;
}

export interface TestPki {
  dir: string;
  /** The trusted CA (its PEM path is `WEFT_TLS_CLIENT_CA`; it also signed the server cert). */
  ca: CertFiles;
  /** A CA nobody trusts. */
  otherCa: CertFiles;
  /** Server certificate for CN=localhost, SAN DNS:localhost, IP:127.0.0.1. */
  server: CertFiles;
  issueClient(name: string, opts: ClientCertOptions): CertFiles;
  cleanup(): void;
}

const openssl = (args: string[], cwd: string): void => {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
};

const CA_CONF = `[ ca ]
default_ca = d
[ d ]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = p
copy_extensions = copy
unique_subject = no
[ p ]
commonName = supplied
`;

/** Creates a CA, a second (untrusted) CA and a server certificate in a temp directory. */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'weft-pki-'));
  const files = (name: string): CertFiles => {
    const cert = join(dir, `${name}.pem`);
    const key = join(dir, `${name}.key`);
    const certPem = readFileSync(cert, 'utf8');
    return { cert, key, certPem, keyPem: readFileSync(key, 'utf8'), fingerprint256: new X509Certificate(certPem).fingerprint256 };
  };
  const makeCa = (name: string, cn: string): CertFiles => {
    openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.pem`,
        '-days',
        '2',
        '-subj',
        `/CN=${cn}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      dir,
    );
    writeFileSync(join(dir, `${name}.cnf`), CA_CONF.replace('index.txt', `${name}-index.txt`).replace('serial = serial', `serial = ${name}-serial`));
    writeFileSync(join(dir, `${name}-index.txt`), '');
    // An even number of hex digits with a leading 01: a positive serial `openssl ca` accepts.
    writeFileSync(join(dir, `${name}-serial`), `01${randomBytes(7).toString('hex')}\n`);
    return files(name);
  };
  const ca = makeCa('ca', 'Weft Test CA');
  const otherCa = makeCa('other-ca', 'Untrusted Test CA');

  const issue = (name: string, subj: string, san: string[], caName: string, window?: { start: string; end: string }, serverAuth = false): CertFiles => {
    const args = ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj];
    if (san.length > 0) args.push('-addext', `subjectAltName=${san.join(',')}`);
    args.push('-addext', `extendedKeyUsage=${serverAuth ? 'serverAuth' : 'clientAuth'}`);
    openssl(args, dir);
    if (window) {
      openssl(
        [
          'ca',
          '-batch',
          '-config',
          `${caName}.cnf`,
          '-cert',
          `${caName}.pem`,
          '-keyfile',
          `${caName}.key`,
          '-in',
          `${name}.csr`,
          '-out',
          `${name}.pem`,
          '-startdate',
          window.start,
          '-enddate',
          window.end,
          '-notext',
        ],
        dir,
      );
    } else {
      openssl(
        [
          'x509',
          '-req',
          '-in',
          `${name}.csr`,
          '-CA',
          `${caName}.pem`,
          '-CAkey',
          `${caName}.key`,
          '-CAcreateserial',
          '-out',
          `${name}.pem`,
          '-days',
          '2',
          '-copy_extensions',
          'copy',
        ],
        dir,
      );
    }
    return files(name);
  };
  const server = issue('server', '/CN=localhost', ['DNS:localhost', 'IP:127.0.0.1'], 'ca', undefined, true);

  const stamp = (d: Date): string => `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
  return {
    dir,
    ca,
    otherCa,
    server,
    issueClient(name, o) {
      const san = [...(o.dns ?? []).map((d) => `DNS:${d}`), ...(o.uri ?? []).map((u) => `URI:${u}`)];
      const day = 86_400_000;
      let window: { start: string; end: string } | undefined;
      if (o.expired) window = { start: stamp(new Date(Date.now() - 10 * day)), end: stamp(new Date(Date.now() - 5 * day)) };
      if (o.notYetValid) window = { start: stamp(new Date(Date.now() + 5 * day)), end: stamp(new Date(Date.now() + 10 * day)) };
      return issue(name, `/CN=${o.cn}`, san, o.untrusted ? 'other-ca' : 'ca', window);
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A response of {@link httpsCall}. */
export interface HttpsResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: unknown;
}

/**
 * One HTTPS request on a fresh connection (no session reuse), trusting `ca`, optionally
 * presenting a client certificate.
 */
export function httpsCall(
  url: string,
  opts: { method?: string; ca: string; client?: { certPem: string; keyPem: string }; headers?: Record<string, string>; body?: unknown },
): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = { ...opts.headers };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const req = request(
      url,
      {
        method: opts.method ?? 'GET',
        ca: opts.ca,
        agent: false,
        headers,
        ...(opts.client ? { cert: opts.client.certPem, key: opts.client.keyPem } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = null;
          if ((res.headers['content-type'] ?? '').includes('json') && text) body = JSON.parse(text);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
