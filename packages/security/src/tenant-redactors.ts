/**
 * Per-tenant redactors for vault secrets. A resolved secret must be scrubbed from everything
 * its run emits, but registering tenant-chosen values on the host-wide redactor would let one
 * tenant blank out strings in every other tenant's events (a value equal to a common word would
 * mangle them all). So each tenant gets a redactor derived from the host's (it still scrubs the
 * host's keys and every credential shape) that also knows that tenant's resolved values; runs of
 * the tenant derive theirs from it. Logs are the operator's and pass the host's log redactor,
 * which learns every resolved value.
 *
 * @see security-contract.md §4.2, §4.3
 */
import type { Redactor } from './redact.js';

/** One redactor per tenant, created on first use, each derived from the host redactor. */
export class TenantRedactors {
  private readonly byTenant = new Map<string, Redactor>();

  /**
   * @param host the host's redactor (configured keys, credential shapes).
   * @param log the log redactor: every registered value is added to it too.
   */
  constructor(
    private readonly host: Redactor,
    private readonly log?: Redactor,
  ) {}

  /** The tenant's redactor: the host's plus every secret registered for the tenant. */
  for(tenant: string): Redactor {
    let r = this.byTenant.get(tenant);
    if (!r) {
      r = this.host.withSecrets([]);
      this.byTenant.set(tenant, r);
    }
    return r;
  }

  /** Registers a resolved value of `tenant`, shown as `[REDACTED:<ref>]`, for the tenant's outputs and the logs. */
  register(tenant: string, value: string, ref: string): void {
    const id = /^[A-Za-z0-9._:-]{1,128}$/.test(ref) ? ref : undefined;
    this.for(tenant).addSecret(value, id);
    this.log?.addSecret(value, id);
  }
}
