/**
 * The wire shapes the SDK reads and sends, re-exported from the contract's dependency-free
 * subpath `@weft/contract/types` (the one declaration; see docs/decisions/0009). Client options
 * live in options.ts.
 *
 * @see wire-contract.md §1.1, §3.2, §3.6
 */
export type * from '@weft/contract/types';
export type {
  /** Body of `POST /v1/runs`. */
  CreateRunRequest as CreateRunBody,
  /** One page of `GET /v1/runs`. */
  RunListResponse as RunList,
  /** The 200 body of `GET /v1/runs/{runId}/events/poll`. */
  PollResponse as PollEventsResponse,
} from '@weft/contract/types';
