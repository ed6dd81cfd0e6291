/**
 * The authenticated caller, whatever the credential. Tenant and principal come from the
 * credential only — never from a request body, input, header or envelope.
 *
 * @see security-contract.md §1.3 (AUTH-23)
 */

/** Which kind of credential authenticated the caller. */
export type PrincipalKind = 'api-key' | 'jwt' | 'mtls';

/** The authenticated caller. */
export interface Principal {
  tenant: string;
  /**
   * Opaque, non-secret, non-PII id of the caller: `key_<16 hex>` for API keys,
   * `jwt:<16 hex>` (from issuer and subject, hashed) for bearer tokens, `mtls:<16 hex>` for
   * certificates. Never a key, a hash of a key, a raw `sub` or a certificate subject.
   */
  principal: string;
  scopes: ReadonlySet<string>;
  kind: PrincipalKind;
  /**
   * True only for the host operator credential (`WEFT_OPERATOR_KEY`): the one principal that
   * may administer other tenants. Its `tenant` is {@link OPERATOR_TENANT}, which no real
   * tenant can have.
   */
  operator?: true;
}

/** The tenant of the operator principal: empty, so it never matches a tenant id. */
export const OPERATOR_TENANT = '';

/** Tenant ids: the same grammar `WEFT_API_KEYS` accepts. */
export const TENANT_RE = /^[A-Za-z0-9._-]{1,128}$/;
