/**
 * The API key of the signed-in tab. It lives in `sessionStorage` only: gone when the tab closes,
 * never in `localStorage`, a cookie or a URL.
 */
const KEY = 'weft.console.apiKey';

/** The stored key, if any. */
export function loadApiKey(): string | undefined {
  try {
    return sessionStorage.getItem(KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

/** Remembers the key for this tab. */
export function saveApiKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

/** Forgets the key (sign-out, or the host stopped accepting it). */
export function clearApiKey(): void {
  sessionStorage.removeItem(KEY);
}
