/**
 * The console shell: the sign-in gate, the navigation and the routed views.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { Notice } from './components.tsx';
import { href, useRoute } from './router.ts';
import { clearApiKey, loadApiKey, saveApiKey } from './session.ts';
import { SessionProvider, signIn, type Session } from './session-context.tsx';
import { AuditView, KeysView } from './views/Admin.tsx';
import { InboxView } from './views/Inbox.tsx';
import { RunDetailView } from './views/RunDetail.tsx';
import { RunsView } from './views/Runs.tsx';
import { WorkflowDetailView, WorkflowsView } from './views/Workflows.tsx';

const BASE_URL = window.location.origin;

/** The sign-in form. */
function SignIn({ onSignedIn, initialError }: { onSignedIn(s: Omit<Session, 'signOut'>, key: string): void; initialError?: string | undefined }): ReactNode {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>(initialError);
  const [busy, setBusy] = useState(false);
  return (
    <main id="main" className="signin">
      <h1>Weft console</h1>
      <p>
        Sign in with an API key of this host. The key stays in this tab (<code>sessionStorage</code>) and is sent only to {BASE_URL}.
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          setError(undefined);
          void signIn(BASE_URL, key).then((r) => {
            setBusy(false);
            if (r.ok) onSignedIn({ client: r.client, discovery: r.discovery, caps: r.caps }, key.trim());
            else setError(r.message);
          });
        }}
      >
        <div className="field">
          <label htmlFor="api-key">API key</label>
          <input
            id="api-key"
            name="api-key"
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={key}
            onChange={(e) => setKey(e.target.value)}
            aria-describedby={error ? 'signin-error' : undefined}
            aria-invalid={error ? true : undefined}
            required
          />
        </div>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      {error && (
        <div id="signin-error">
          <Notice kind="error">{error}</Notice>
        </div>
      )}
      <p className="muted">
        <code>npm start</code> prints a development key; <code>weft keys create</code> makes managed ones.
      </p>
    </main>
  );
}

function NotAvailable({ what }: { what: string }): ReactNode {
  return (
    <section>
      <h1>Not available</h1>
      <p>{what}</p>
      <p>
        <a href={href(['runs'])}>Back to runs</a>
      </p>
    </section>
  );
}

/** The routed view of a signed-in session. */
function Routed({ session }: { session: Session }): ReactNode {
  const route = useRoute();
  const [first, second] = route.segments;
  switch (first) {
    case undefined:
    case 'runs':
      return second ? <RunDetailView runId={second} /> : <RunsView query={route.query} />;
    case 'inbox':
      return <InboxView />;
    case 'workflows':
      return second ? <WorkflowDetailView workflowId={second} /> : <WorkflowsView />;
    case 'admin':
      if (second === 'keys' && session.caps.keys) return <KeysView />;
      if (second === 'audit' && session.caps.audit) return <AuditView />;
      return <NotAvailable what="This page needs an administrative scope that this API key does not have." />;
    default:
      return <NotAvailable what="There is no such page." />;
  }
}

function Shell({ session }: { session: Session }): ReactNode {
  const route = useRoute();
  const here = route.segments[0] ?? 'runs';
  const link = (to: string[], label: string, key: string): ReactNode => (
    <li>
      <a href={href(to)} aria-current={here === key && (key !== 'admin' || route.segments[1] === to[1]) ? 'page' : undefined}>
        {label}
      </a>
    </li>
  );
  const impl = session.discovery.implementation;
  return (
    <>
      <button type="button" className="skip" onClick={() => document.getElementById('main')?.focus()}>
        Skip to content
      </button>
      <header className="top">
        <span className="brand">Weft console</span>
        <nav aria-label="Main">
          <ul>
            {link(['runs'], 'Runs', 'runs')}
            {link(['inbox'], 'Inbox', 'inbox')}
            {link(['workflows'], 'Workflows', 'workflows')}
            {session.caps.keys && link(['admin', 'keys'], 'API keys', 'admin')}
            {session.caps.audit && link(['admin', 'audit'], 'Audit log', 'admin')}
          </ul>
        </nav>
        <span className="muted host">
          {impl?.name ?? 'host'} {impl?.version ?? ''} · OpenWOP {session.discovery.protocolVersion}
        </span>
        <button type="button" onClick={session.signOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Routed session={session} />
      </main>
    </>
  );
}

/** The console: signs in from the tab's stored key when there is one. */
export function App(): ReactNode {
  const [session, setSession] = useState<Omit<Session, 'signOut'> | undefined>(undefined);
  const [restoring, setRestoring] = useState(() => loadApiKey() !== undefined);
  const [restoreError, setRestoreError] = useState<string | undefined>(undefined);

  useEffect(() => {
    const stored = loadApiKey();
    if (!stored) return;
    void signIn(BASE_URL, stored).then((r) => {
      setRestoring(false);
      if (r.ok) setSession({ client: r.client, discovery: r.discovery, caps: r.caps });
      else {
        clearApiKey();
        setRestoreError(r.message);
      }
    });
  }, []);

  if (restoring) return <p className="loading">Signing in…</p>;
  if (!session) {
    return (
      <SignIn
        initialError={restoreError}
        onSignedIn={(s, key) => {
          saveApiKey(key);
          setSession(s);
        }}
      />
    );
  }
  const full: Session = {
    ...session,
    signOut: () => {
      clearApiKey();
      setSession(undefined);
    },
  };
  return (
    <SessionProvider value={full}>
      <Shell session={full} />
    </SessionProvider>
  );
}
