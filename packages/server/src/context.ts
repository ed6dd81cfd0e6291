/**
 * What route modules share: the engine, the store, the authenticator and configuration.
 */
import type { RunEngine } from '@weft/engine';
import type { HostStore } from '@weft/store-kit';
import type { FastifyRequest } from 'fastify';
import { WeftError } from '@weft/contract';
import type { SecretResolver } from '@weft/engine';
import type { LoadedPack } from '@weft/packs';
import type { Redactor, TenantRedactors } from '@weft/security';
import type { Principal } from './auth.js';
import type { HostConfig } from './config.js';
import type { InterruptTokens } from './interrupt-tokens.js';
import type { RunCorrelations } from './request-log.js';
import type { AuditLog } from './audit-log.js';
import type { ManagedKeyService } from './managed-keys.js';
import type { SecretVault } from './vault.js';
import type { WebhookService } from './webhooks.js';

/** The secrets vault of a host that has a master key. */
export interface HostVault {
  service: SecretVault;
  /** The engine-facing resolver (tenant-bound; registers every value it returns with `redactors`). */
  resolver: SecretResolver;
  /** Per-tenant redactors that know the tenant's resolved values; runs derive theirs from these. */
  redactors: TenantRedactors;
  /** HMAC key for the Idempotency-Key request hash of vault routes. */
  digestKey: Buffer;
  /** Where the master key came from (start-up notes, docs). */
  source: 'env' | 'file' | 'generated' | 'data-dir' | 'ephemeral';
}

export interface HostContext {
  engine: RunEngine;
  /** OpenTelemetry, when configured (decision 0024); absent = no telemetry work at all. */
  telemetry?: import('./telemetry.js').HostTelemetry;
  store: HostStore;
  config: HostConfig;
  /** The discovery document (built once; the fixture list is recomputed on workflow changes). */
  discovery(): Record<string, unknown>;
  /** Called after the workflow catalog changed. */
  workflowsChanged(): Promise<void>;
  version: string;
  tokens: InterruptTokens;
  /** The tamper-evident audit log; routes append after a successful mutation. */
  audit: AuditLog;
  /** Managed API keys (the auth chain verifies bearer tokens against it). */
  managedKeys?: ManagedKeyService;
  /** The host's redactor (error envelopes; the engine and logger hold the same one). */
  redactor?: Redactor;
  /** The secrets vault; absent when no master key is configured (a Postgres host without one). */
  vault?: HostVault;
  /** Webhook subscriptions and delivery; absent when the vault is (their secrets are sealed with its key). */
  webhooks?: WebhookService;
  /** The verified node packs (the `/v1/packs` read side). */
  packs?: readonly LoadedPack[];
  /** Correlation ids of the runs this process created, for their run log lines (request-log.ts). */
  runCorrelations?: RunCorrelations;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Scope required by the route; routes without one are public. */
    scope?: import('@weft/contract').Scope;
    /**
     * The scopes a request needs when they depend on it (one route serving several verbs, e.g.
     * `{runId}:pause` and `{runId}:fork`); checked instead of `scope`, which still marks the route protected.
     */
    scopesOf?: (req: import('fastify').FastifyRequest) => readonly import('@weft/contract').Scope[];
  }
}

/** The authenticated principal of a protected route (set by the auth hook). */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new WeftError('unauthenticated', 'Authentication required.');
  return req.principal;
}

const ID_RE = /^[A-Za-z0-9._:~-]{1,128}$/;

/**
 * Validates a path id. Ids outside the grammar cannot exist, so they answer like a missing
 * resource; oversized ids are a client error.
 */
export function pathId(value: string, name: string): string {
  if (value.length > 128)
    throw new WeftError('validation_error', `${name} is longer than 128 characters.`, { errors: [{ path: `/${name}`, message: 'too long' }] });
  if (!ID_RE.test(value)) throw new WeftError('not_found', `No such ${name === 'workflowId' ? 'workflow' : 'resource'}.`);
  return value;
}
