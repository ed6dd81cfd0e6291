/**
 * HTTPS and mTLS serving options from configuration, and the peer-certificate view the auth
 * hook reads.
 *
 * Client certificates are *requested* and verified against `WEFT_TLS_CLIENT_CA`, but the
 * handshake does not fail on a missing or bad certificate (`rejectUnauthorized: false`): the
 * host answers such requests itself with the canonical 401 `unauthenticated` envelope, which a
 * client can read and a test can assert (security-contract.md AUTH-62 allows either).
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { TLSSocket, type TlsOptions } from 'node:tls';
import type { PeerInfo } from '@weft/security';
import type { SecurityConfig } from './security-config.js';

/** Options for `https.createServer`, or undefined when the host serves plain HTTP. */
export function httpsServerOptions(cfg: SecurityConfig): TlsOptions | undefined {
  if (!cfg.tlsCert || !cfg.tlsKey) return undefined;
  const opts: TlsOptions = {
    cert: readFileSync(cfg.tlsCert),
    key: readFileSync(cfg.tlsKey),
    minVersion: 'TLSv1.2',
  };
  if (cfg.tlsClientCa) {
    opts.ca = readFileSync(cfg.tlsClientCa);
    opts.requestCert = true;
    opts.rejectUnauthorized = false;
  }
  return opts;
}

const peers = new WeakMap<Socket, PeerInfo>();

/** What the TLS layer verified about the client on `socket` (cached per connection). */
export function peerOf(socket: Socket): PeerInfo {
  const hit = peers.get(socket);
  if (hit) return hit;
  let info: PeerInfo = { authorized: false, cert: undefined };
  if (socket instanceof TLSSocket) {
    const cert = socket.getPeerCertificate();
    info = { authorized: socket.authorized, cert: cert && Object.keys(cert).length > 0 ? cert : undefined };
    const err = socket.authorizationError as unknown;
    if (!socket.authorized && err) info.authorizationError = typeof err === 'string' ? err : String((err as { code?: string }).code ?? err);
  }
  peers.set(socket, info);
  return info;
}
