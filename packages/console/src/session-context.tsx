/**
 * The signed-in session: one SDK client for this origin and key, and what the key may do.
 *
 * What the key may do is learnt from the public API itself: the console asks the host, and a
 * refusal (403) hides the view. Admin pages appear only when `GET /v1/host/weft/keys` (scope
 * `keys:manage`) or `GET /v1/audit/verify` (scope `audit:read`) answer; fork appears only when
 * discovery advertises replay.
 */
import { WeftClient, type DiscoveryDocument } from '@weft/sdk';
import { createContext, useContext } from 'react';
import { advertisesPause, advertisesReplay } from './lib/capabilities.ts';
import { errorStatus, errorText } from './lib/errors.ts';

/** What the signed-in key can reach. */
export interface Capabilities {
  /** `keys:manage`: the API keys page. */
  keys: boolean;
  /** `audit:read`: the audit verification page. */
  audit: boolean;
  /** Discovery advertises replay (fork from an event). */
  replay: boolean;
  /** Discovery advertises pause/resume. */
  pauseResume: boolean;
}

/** A signed-in session. */
export interface Session {
  client: WeftClient;
  discovery: DiscoveryDocument;
  caps: Capabilities;
  signOut(): void;
}

const SessionContext = createContext<Session | undefined>(undefined);

/** Provides the session to the views. */
export const SessionProvider = SessionContext.Provider;

/** The session of a signed-in view. */
export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in view');
  return s;
}

/** The outcome of a sign-in attempt. */
export type SignInResult = { ok: true; client: WeftClient; discovery: DiscoveryDocument; caps: Capabilities } | { ok: false; message: string };

/** Whether a probe's answer means "this key has the scope": anything but a refusal or a missing route. */
async function probe(call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
    return true;
  } catch (err) {
    const s = errorStatus(err);
    return s !== undefined && s !== 401 && s !== 403 && s !== 404 && s < 500;
  }
}

/**
 * Checks a key against the host: discovery (public), then one authenticated call
 * (`GET /v1/runs?limit=1`). A 401 is a wrong key; a 403 a key without `runs:read` (the console
 * needs it). Then the admin probes.
 */
export async function signIn(baseUrl: string, apiKey: string): Promise<SignInResult> {
  const key = apiKey.trim();
  if (key === '') return { ok: false, message: 'Enter an API key.' };
  let client: WeftClient;
  try {
    client = new WeftClient({ baseUrl, apiKey: key });
  } catch (err) {
    return { ok: false, message: errorText(err) };
  }
  let discovery: DiscoveryDocument;
  try {
    discovery = await client.discovery();
  } catch (err) {
    return { ok: false, message: `The host at ${baseUrl} did not answer its discovery document (${errorText(err)}).` };
  }
  try {
    await client.listRuns({ limit: 1 });
  } catch (err) {
    const s = errorStatus(err);
    if (s === 401) return { ok: false, message: `Sign-in failed: the host did not accept this API key. Check it and try again. (${errorText(err)})` };
    if (s === 403) return { ok: false, message: `Sign-in failed: this API key may not read runs (it needs the runs:read scope). (${errorText(err)})` };
    return { ok: false, message: `Sign-in failed: ${errorText(err)}` };
  }
  const [keys, audit] = await Promise.all([probe(() => client.listKeys()), probe(() => client.verifyAudit(0, 0))]);
  return { ok: true, client, discovery, caps: { keys, audit, replay: advertisesReplay(discovery), pauseResume: advertisesPause(discovery) } };
}
