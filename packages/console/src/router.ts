/**
 * Hash routing (`#/runs/<id>`): every view is addressable and bookmarkable, and the host serves
 * one page only. Query parameters after the path (`#/runs?status=failed`) carry filters.
 */
import { useEffect, useState } from 'react';

/** The parsed location hash. */
export interface Route {
  /** Path segments, decoded: `#/runs/abc` → `['runs', 'abc']`. */
  segments: string[];
  query: URLSearchParams;
}

/** Parses a hash such as `#/runs?status=failed`. */
export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const path = q >= 0 ? raw.slice(0, q) : raw;
  const query = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
  const segments = path
    .split('/')
    .filter(Boolean)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  return { segments, query };
}

/** Builds a hash href from segments and optional query values (empty values are dropped). */
export function href(segments: readonly string[], query: Record<string, string | undefined> = {}): string {
  const path = segments.map((s) => encodeURIComponent(s)).join('/');
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, v);
  const qs = params.toString();
  return `#/${path}${qs ? `?${qs}` : ''}`;
}

/** Goes to a hash href. */
export function navigate(to: string): void {
  if (window.location.hash !== to) window.location.hash = to;
}

/** Replaces the current hash (filters: no history entry per keystroke). */
export function replace(to: string): void {
  if (window.location.hash !== to) window.history.replaceState(null, '', to);
}

/** The current route, re-rendering on `hashchange`. */
export function useRoute(): Route {
  const [hash, setHash] = useState(() => window.location.hash);
  useEffect(() => {
    const on = (): void => setHash(window.location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return parseHash(hash);
}
