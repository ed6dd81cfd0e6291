/**
 * Opens the audit log and the managed-key service over a store, the same way for the host and
 * for `weft keys --data-dir` (which writes the same SQLite file, and the same audit chain,
 * without a running host).
 */
import type { AuditStore, KeyStore } from '@weft/store-kit';
import type { Logger } from 'pino';
import { AuditLog } from './audit-log.js';
import { loadAuditSigningKey } from './audit-signing-key.js';
import type { HostConfig } from './config.js';
import { ManagedKeyService } from './managed-keys.js';

/** The audit log and the managed keys of one store. */
export interface SecurityServices {
  audit: AuditLog;
  managedKeys: ManagedKeyService;
}

type Settings = Pick<HostConfig, 'store' | 'dataDir' | 'auditSigningKey' | 'auditCheckpointEntries' | 'auditCheckpointSeconds' | 'keyRotationGraceSeconds'>;

/** Opens both services; `timers: false` for short-lived processes such as the CLI. */
export async function openSecurityServices(
  store: KeyStore & AuditStore,
  config: Settings,
  opts: { logger?: Logger; timers?: boolean } = {},
): Promise<SecurityServices> {
  const signingKey = loadAuditSigningKey(config.auditSigningKey, config.store === 'sqlite' ? config.dataDir : undefined);
  if (signingKey.source === 'ephemeral' && config.store === 'postgres') {
    opts.logger?.warn('WEFT_AUDIT_SIGNING_KEY is not set: audit checkpoints are signed with a per-process key and verify only while this process lives');
  }
  const audit = await AuditLog.open(store, {
    signingKey,
    checkpointEntries: config.auditCheckpointEntries,
    checkpointSeconds: config.auditCheckpointSeconds,
    ...(opts.timers === undefined ? {} : { timers: opts.timers }),
    onError: (err) => opts.logger?.warn({ err: err instanceof Error ? err.message : String(err) }, 'audit checkpoint failed'),
  });
  const managedKeys = new ManagedKeyService(store, { minGraceSeconds: config.keyRotationGraceSeconds, audit });
  return { audit, managedKeys };
}
