/**
 * A store class keeps each port's statements in a part object (`this.vault`, `this.hooks`, …)
 * and answers the port's methods by calling the part. Instead of a hand-written one-line
 * delegator per method in every store, {@link forwardMethods} installs them once; the class
 * declares the port through interface merging (`interface SqliteStore extends SecretStore {}`).
 */
import type { InvocationStore, RetentionStore } from '@weft/engine';
import type { SecretStore, WebhookOutboxStore, WebhookStore } from './ports.js';

/** The methods of {@link SecretStore}. */
export const SECRET_STORE_METHODS = [
  'createSecret',
  'getSecret',
  'listSecrets',
  'replaceSecret',
  'deleteSecret',
  'listSecretsNotWrappedBy',
] as const satisfies readonly (keyof SecretStore)[];

/** The methods of {@link WebhookStore}. */
export const WEBHOOK_STORE_METHODS = [
  'createWebhook',
  'getWebhook',
  'listWebhooks',
  'listActiveWebhooks',
  'deleteWebhook',
  'updateWebhookHealth',
  'transitionWebhook',
  'putWebhookDelivery',
  'listWebhookDeliveries',
  'countWebhookFailures',
] as const satisfies readonly (keyof WebhookStore)[];

/** The methods of {@link WebhookOutboxStore}. */
export const WEBHOOK_OUTBOX_METHODS = ['claimOutbox', 'finishOutbox', 'requeueOutbox', 'countOutbox'] as const satisfies readonly (keyof WebhookOutboxStore)[];

/** The methods of {@link InvocationStore}. */
export const INVOCATION_STORE_METHODS = [
  'claimInvocation',
  'recordInvocation',
  'releaseInvocation',
  'listInvocations',
  'purgeExpiredInvocations',
] as const satisfies readonly (keyof InvocationStore)[];

/** The methods of {@link RetentionStore}. */
export const RETENTION_STORE_METHODS = ['expireRuns', 'getExpiredRun'] as const satisfies readonly (keyof RetentionStore)[];

/**
 * Defines `methods` on `cls.prototype`, each calling the same method of `this[part]` (read on
 * every call, so a part prepared lazily by a getter works). Methods the class defines itself are
 * left alone.
 */
export function forwardMethods(cls: { prototype: object }, part: string, methods: readonly string[]): void {
  for (const m of methods) {
    if (Object.hasOwn(cls.prototype, m)) continue;
    Object.defineProperty(cls.prototype, m, {
      configurable: true,
      writable: true,
      value(this: Record<string, Record<string, (...a: unknown[]) => unknown>>, ...args: unknown[]) {
        return (this[part] as Record<string, (...a: unknown[]) => unknown>)[m]?.(...args);
      },
    });
  }
}
