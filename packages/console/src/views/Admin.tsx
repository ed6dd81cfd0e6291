/**
 * Admin pages, shown only to keys with the scope: managed API keys (`keys:manage`: create shows
 * the secret once, rotate, revoke) and audit-log verification over a range (`audit:read`).
 */
import { SCOPES } from '@weft/contract/types';
import type { AuditVerifyResult, IssuedApiKey } from '@weft/sdk';
import { useState, type ReactNode } from 'react';
import { JsonView, Notice, StatusBadge, Time } from '../components.tsx';
import { errorText } from '../lib/errors.ts';
import { useLoad } from '../lib/hooks.ts';
import { useSession } from '../session-context.tsx';

/** Scopes a managed key may carry (`keys:admin` belongs to the operator credential only). */
const GRANTABLE = SCOPES.filter((s) => s !== 'keys:admin');

function SecretOnce({ issued, onDone }: { issued: IssuedApiKey; onDone(): void }): ReactNode {
  return (
    <div className="panel secret" role="alert">
      <h2>Copy the secret now</h2>
      <p>
        Key <code>{issued.keyId}</code> ({issued.name || 'unnamed'}). The host keeps only a hash: this is the only time the secret is shown.
      </p>
      <input className="secret-value" type="text" readOnly value={issued.secret} aria-label="The new secret" onFocus={(e) => e.currentTarget.select()} />
      {issued.rotated && (
        <p>
          The previous key <code>{issued.rotated.keyId}</code> keeps working until <Time iso={issued.rotated.graceUntil} />.
        </p>
      )}
      <button type="button" onClick={onDone}>
        I have stored it
      </button>
    </div>
  );
}

export function KeysView(): ReactNode {
  const { client } = useSession();
  const keys = useLoad((signal) => client.listKeys({}, { signal }), []);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Set<string>>(new Set(['runs:read']));
  const [expires, setExpires] = useState('');
  const [grace, setGrace] = useState('');
  const [issued, setIssued] = useState<IssuedApiKey | undefined>(undefined);
  const [message, setMessage] = useState<{ kind: 'error' | 'success'; text: string } | undefined>(undefined);

  const done = (p: Promise<IssuedApiKey | { keyId: string; status: string }>, label: string): void => {
    setMessage(undefined);
    p.then(
      (r) => {
        if ('secret' in r) setIssued(r as IssuedApiKey);
        else setMessage({ kind: 'success', text: `${label}: ${r.keyId} is ${r.status}.` });
        keys.reload();
      },
      (err: unknown) => setMessage({ kind: 'error', text: errorText(err) }),
    );
  };

  return (
    <section aria-labelledby="keys-h">
      <h1 id="keys-h">API keys</h1>
      {issued && <SecretOnce issued={issued} onDone={() => setIssued(undefined)} />}
      {message && <Notice kind={message.kind}>{message.text}</Notice>}
      <form
        className="panel"
        aria-labelledby="newkey-h"
        onSubmit={(e) => {
          e.preventDefault();
          const secs = expires.trim() === '' ? undefined : Number(expires);
          done(client.createKey({ scopes: [...scopes], ...(name ? { name } : {}), ...(secs ? { expiresInSeconds: secs } : {}) }), 'Created');
        }}
      >
        <h2 id="newkey-h">Create a key</h2>
        <div className="field">
          <label htmlFor="key-name">Name</label>
          <input id="key-name" type="text" maxLength={128} value={name} onChange={(e) => setName(e.target.value)} />
        </div>
        <fieldset>
          <legend>Scopes</legend>
          <div className="scopes">
            {GRANTABLE.map((s) => (
              <div className="field inline" key={s}>
                <input
                  id={`scope-${s}`}
                  type="checkbox"
                  checked={scopes.has(s)}
                  onChange={(e) => {
                    const next = new Set(scopes);
                    if (e.target.checked) next.add(s);
                    else next.delete(s);
                    setScopes(next);
                  }}
                />
                <label htmlFor={`scope-${s}`}>{s}</label>
              </div>
            ))}
          </div>
        </fieldset>
        <div className="field">
          <label htmlFor="key-expires">Expires in (seconds, optional)</label>
          <input id="key-expires" type="number" min={1} value={expires} onChange={(e) => setExpires(e.target.value)} />
        </div>
        <button type="submit" className="primary" disabled={scopes.size === 0}>
          Create key
        </button>
      </form>

      {keys.error && <Notice kind="error">{keys.error}</Notice>}
      <div className="field inline">
        <label htmlFor="rotate-grace">Rotation grace (seconds, optional)</label>
        <input id="rotate-grace" type="number" min={0} value={grace} onChange={(e) => setGrace(e.target.value)} />
      </div>
      <div className="table-wrap">
        <table>
          <caption className="sr-only">Managed API keys</caption>
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Name</th>
              <th scope="col">Scopes</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {(keys.value?.keys ?? []).map((k) => (
              <tr key={k.keyId}>
                <td>
                  <code>{k.keyId}</code>
                </td>
                <td>{k.name}</td>
                <td className="small">{k.scopes.join(', ')}</td>
                <td>
                  <StatusBadge status={k.status} />
                </td>
                <td>
                  <Time iso={k.createdAt} />
                </td>
                <td>
                  <Time iso={k.lastUsedAt} />
                </td>
                <td className="actions">
                  {k.status === 'active' && (
                    <>
                      <button
                        type="button"
                        onClick={() => done(client.rotateKey(k.keyId, grace.trim() === '' ? {} : { graceSeconds: Number(grace) }), 'Rotated')}
                      >
                        Rotate<span className="sr-only"> {k.keyId}</span>
                      </button>
                      <button
                        type="button"
                        className="danger"
                        onClick={() => {
                          if (window.confirm(`Revoke ${k.keyId}? It stops working at once.`)) done(client.revokeKey(k.keyId), 'Revoked');
                        }}
                      >
                        Revoke<span className="sr-only"> {k.keyId}</span>
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function AuditView(): ReactNode {
  const { client } = useSession();
  const [from, setFrom] = useState('0');
  const [to, setTo] = useState('999');
  const [result, setResult] = useState<AuditVerifyResult | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  return (
    <section aria-labelledby="audit-h">
      <h1 id="audit-h">Audit log</h1>
      <form
        className="panel filters"
        onSubmit={(e) => {
          e.preventDefault();
          setError(undefined);
          client.verifyAudit(Number(from), Number(to)).then(setResult, (err: unknown) => {
            setResult(undefined);
            setError(errorText(err));
          });
        }}
      >
        <div className="field">
          <label htmlFor="audit-from">From sequence</label>
          <input id="audit-from" type="number" min={0} value={from} onChange={(e) => setFrom(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="audit-to">To sequence</label>
          <input id="audit-to" type="number" min={0} value={to} onChange={(e) => setTo(e.target.value)} />
        </div>
        <button type="submit" className="primary">
          Verify
        </button>
      </form>
      {error && <Notice kind="error">{error}</Notice>}
      {result && (
        <>
          <Notice kind={result.chainValid && result.checkpointsValid ? 'success' : 'error'}>
            Entries {result.fromSeq}–{result.toSeq}: hash chain {result.chainValid ? 'intact' : 'BROKEN'}, checkpoints{' '}
            {result.checkpointsValid ? 'valid' : 'INVALID'}
            {result.anomalies.length > 0 && ` (${result.anomalies.length} anomalies)`}.
          </Notice>
          <JsonView value={result} label="Verification result" />
        </>
      )}
    </section>
  );
}
