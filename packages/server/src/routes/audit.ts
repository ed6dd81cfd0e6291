/**
 * `GET /v1/audit/verify?fromSeq&toSeq` (scope `audit:read`): re-walks the audit log's hash
 * chain over [fromSeq, toSeq] and checks the signed checkpoints in that range.
 *
 * @see security-contract.md §1.10, wire-contract.md §1.1 (#19)
 */
import { ROUTE_SCHEMAS, WeftError } from '@weft/contract';
import type { WeftApp } from '../app.js';
import type { HostContext } from '../context.js';
import { MAX_VERIFY_RANGE } from '../audit-log.js';

const SEQ_RE = /^(0|[1-9]\d{0,15})$/;

export function registerAuditRoutes(app: WeftApp, ctx: HostContext): void {
  app.get('/v1/audit/verify', { config: { scope: 'audit:read' }, schema: ROUTE_SCHEMAS['GET /v1/audit/verify'] }, async (req) => {
    const q = req.query;
    const errors: { path: string; message: string }[] = [];
    const seq = (name: 'fromSeq' | 'toSeq'): number => {
      const v = q[name];
      if (typeof v !== 'string' || !SEQ_RE.test(v) || !Number.isSafeInteger(Number(v))) {
        errors.push({ path: `/${name}`, message: 'must be an integer ≥ 0' });
        return -1;
      }
      return Number(v);
    };
    const fromSeq = seq('fromSeq');
    const toSeq = seq('toSeq');
    if (errors.length === 0 && toSeq < fromSeq) errors.push({ path: '/toSeq', message: 'must be ≥ fromSeq' });
    if (errors.length > 0) throw new WeftError('validation_error', 'fromSeq and toSeq must be integers with 0 ≤ fromSeq ≤ toSeq.', { errors });
    if (toSeq - fromSeq + 1 > MAX_VERIFY_RANGE) {
      throw new WeftError('validation_error', `At most ${MAX_VERIFY_RANGE} entries per verification.`, {
        errors: [{ path: '/toSeq', message: 'range too large' }],
        max: MAX_VERIFY_RANGE,
      });
    }
    return ctx.audit.verify(fromSeq, toSeq);
  });
}
